# The libraries src/crmt builds against, shared by the project and fuzz/.
# LibTorch: Debian's libtorch-dev by default; any other build (CUDA, ...) through CMAKE_PREFIX_PATH.
find_package(Torch REQUIRED)
# LibTorch 2.12 and later refuse to compile below C++20 (crmt's own code is written to C++17).
if(Torch_VERSION VERSION_GREATER_EQUAL 2.12 AND CMAKE_CXX_STANDARD LESS 20)
  set(CMAKE_CXX_STANDARD 20)
endif()
message(STATUS "crmt: LibTorch ${Torch_VERSION} (${TORCH_INSTALL_PREFIX}), C++${CMAKE_CXX_STANDARD}")
find_package(yaml-cpp REQUIRED)
find_package(fmt REQUIRED)
find_package(nlohmann_json REQUIRED)
find_package(ZLIB REQUIRED)
# Boost.Math (header-only): the binomial and normal distributions of randomized smoothing.
find_package(Boost 1.74 REQUIRED CONFIG COMPONENTS headers)
find_package(JPEG REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(ESPEAK_NG REQUIRED IMPORTED_TARGET espeak-ng)
# Raw videos: FFmpeg's libraries decode and encode (crmt data prepare / make-fixture --videos);
# OpenCV's contrib optflow module computes UCF101's TV-L1 optical flow.
pkg_check_modules(FFMPEG REQUIRED IMPORTED_TARGET libavformat libavcodec libavutil libswscale libswresample)
find_package(OpenCV REQUIRED COMPONENTS core imgproc video optflow)
