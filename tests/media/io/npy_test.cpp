#include "crmt/data/npy_tensor.h"
#include "crmt/media/io/npy.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>

#include "crmt/core/error.h"
#include "test_util.h"

namespace crmt {
namespace {

void write_bytes(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// A NumPy v1.0 header as np.save writes it: the dict padded with spaces to a 64-byte boundary.
std::string v1_header(const std::string& dict) {
  std::string text = dict;
  text.append(64 - (10 + text.size() + 1) % 64, ' ');
  text += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  out += static_cast<char>(text.size() & 0xff);
  out += static_cast<char>(text.size() >> 8);
  return out + text;
}

TEST(Npy, RoundTripsEveryDtypeAndShape) {
  auto dir = test::temp_dir("npy_roundtrip");
  const std::vector<at::ScalarType> types = {at::kHalf, at::kFloat, at::kDouble, at::kByte, at::kChar,
                                             at::kShort, at::kInt,  at::kLong,   at::kBool};
  const std::vector<std::vector<int64_t>> shapes = {{}, {0}, {5}, {2, 3}, {2, 0, 4}, {3, 1, 2, 2}};
  int n = 0;
  for (auto type : types) {
    for (const auto& shape : shapes) {
      auto t = (torch::arange(c10::multiply_integers(shape), torch::kLong) * 7 % 11 - 3).reshape(shape);
      t = type == at::kBool ? (t > 0) : t.to(type);
      const auto path = (dir / ("a" + std::to_string(n++) + ".npy")).string();
      write_npy(path, t);
      auto back = read_npy(path);
      EXPECT_EQ(back.scalar_type(), type);
      EXPECT_EQ(back.sizes(), t.sizes()) << path;
      EXPECT_TRUE(torch::equal(back, t)) << c10::toString(type);
      // The data starts on a 64-byte boundary, as NumPy writes it.
      EXPECT_EQ(read_npy_header(path).data_offset % 64, 0);
    }
  }
}

TEST(Npy, WritesNonContiguousTensorsInLogicalOrder) {
  auto dir = test::temp_dir("npy_noncontig");
  auto t = torch::arange(6, torch::kFloat).reshape({2, 3}).t();  // [[0,3],[1,4],[2,5]]
  write_npy((dir / "t.npy").string(), t);
  auto back = read_npy((dir / "t.npy").string());
  EXPECT_TRUE(torch::equal(back, t.contiguous()));
}

TEST(Npy, ReadsAHandWrittenNumpyFile) {
  auto dir = test::temp_dir("npy_hand");
  // The first 128 bytes of np.save(f, np.zeros((2, 3), np.float32)) with NumPy 1.24.
  const char header[] =
      "\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"
      "                                                          \n";
  std::string bytes(header, sizeof(header) - 1);  // it holds NUL bytes
  ASSERT_EQ(bytes.size(), 128u);
  const float values[6] = {1.5f, -2.0f, 0.0f, 3.25f, 1e-3f, 42.0f};
  bytes.append(reinterpret_cast<const char*>(values), sizeof(values));  // little-endian host
  write_bytes(dir / "f.npy", bytes);
  auto h = read_npy_header((dir / "f.npy").string());
  EXPECT_EQ(h.descr, "<f4");
  EXPECT_EQ(h.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_FALSE(h.fortran_order);
  EXPECT_EQ(h.data_offset, 128);
  auto t = read_npy((dir / "f.npy").string());
  ASSERT_EQ(t.sizes(), (at::IntArrayRef{2, 3}));
  EXPECT_FLOAT_EQ(t[1][0].item<float>(), 3.25f);
  EXPECT_FLOAT_EQ(t[1][2].item<float>(), 42.0f);
}

TEST(Npy, AShapeTheFileDoesNotHoldIsRefusedBeforeAllocating) {
  // Found by fuzz_npy: a header claiming 87777777777778 int64 values (700 TB) over a few bytes.
  auto dir = test::temp_dir("npy_claims");
  write_bytes(dir / "claims.npy", v1_header("{'descr': '<i8', 'fortran_order': False, 'shape': (87777777777778,), }") + "12345678");
  auto msg = test::error_of([&] { read_npy((dir / "claims.npy").string()); });
  EXPECT_NE(msg.find("claims.npy: truncated .npy data (8 of 702222222222224 bytes)"), std::string::npos) << msg;
}

TEST(Npy, ReadsVersion2HeadersAndOneDimTuples) {
  auto dir = test::temp_dir("npy_v2");
  std::string dict = "{'descr': '|u1', 'fortran_order': False, 'shape': (4,), }";
  dict.append(64 - (12 + dict.size() + 1) % 64, ' ');
  dict += '\n';
  std::string bytes("\x93NUMPY\x02\x00", 8);
  for (int i = 0; i < 4; ++i) bytes += static_cast<char>((dict.size() >> (8 * i)) & 0xff);
  bytes += dict + std::string("\x01\x02\x03\xff", 4);
  write_bytes(dir / "u.npy", bytes);
  auto t = read_npy((dir / "u.npy").string());
  ASSERT_EQ(t.scalar_type(), at::kByte);
  EXPECT_EQ(t.sizes(), (at::IntArrayRef{4}));
  EXPECT_EQ(t[3].item<int>(), 255);
}

TEST(Npy, RejectsBadFilesNamingThePath) {
  auto dir = test::temp_dir("npy_errors");
  const float six[6] = {};
  auto write = [&](const std::string& name, const std::string& dict, size_t data_bytes) {
    std::string bytes = v1_header(dict);
    bytes.append(reinterpret_cast<const char*>(six), data_bytes);
    write_bytes(dir / name, bytes);
    return (dir / name).string();
  };
  const auto truncated = write("trunc.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 20);
  const auto fortran = write("fortran.npy", "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", 24);
  const auto big = write("big.npy", "{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }", 24);
  const auto complex = write("c.npy", "{'descr': '<c8', 'fortran_order': False, 'shape': (3,), }", 24);
  const auto malformed = write("m.npy", "{'descr': '<f4', 'shape': (2, 3), }", 24);
  write_bytes(dir / "magic.npy", "PK\x03\x04 not numpy at all");
  const auto missing = (dir / "missing.npy").string();

  auto expect_error = [](const std::string& path, const std::string& word) {
    auto msg = test::error_of([&] { read_npy(path); });
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_NE(msg.find(word), std::string::npos) << msg;
  };
  expect_error(truncated, "truncated");
  expect_error(fortran, "Fortran");
  expect_error(big, "big-endian");
  expect_error(complex, "dtype");
  expect_error(malformed, "header");
  expect_error((dir / "magic.npy").string(), "not an .npy");
  expect_error(missing, "cannot open");
  EXPECT_NE(test::error_of([&] { read_npy_header(missing); }).find(missing), std::string::npos);
}

}  // namespace
}  // namespace crmt
