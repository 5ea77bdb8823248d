#include "crmt/media/io/jpeg.h"

#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>

// jpeglib.h needs size_t and FILE declared first.
#include <jpeglib.h>
#include <jerror.h>  // message codes (JWRN_JPEG_EOF)

#include "crmt/core/atomic_file.h"
#include "crmt/core/error.h"

namespace crmt {

namespace {

// libjpeg reports fatal errors through error_exit, which must not return. It is C code, so an
// exception thrown through it is not safe: we longjmp back to the setjmp in run_decode / run_encode,
// which own no objects with destructors, and turn the message into a crmt::Error there.
struct ErrorManager {
  jpeg_error_mgr pub;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

[[noreturn]] void on_error(j_common_ptr info) {
  auto* err = reinterpret_cast<ErrorManager*>(info->err);
  (*info->err->format_message)(info, err->message);
  std::longjmp(err->jump, 1);
}

// Warnings (level -1) are silent, except that running out of data is fatal: libjpeg would fill the
// rest of the image with grey, while PIL refuses a truncated file.
void on_message(j_common_ptr info, int level) {
  if (level == -1 && info->err->msg_code == JWRN_JPEG_EOF) on_error(info);
}

void install(ErrorManager& err) {
  jpeg_std_error(&err.pub);
  err.pub.error_exit = on_error;
  err.pub.emit_message = on_message;
  err.pub.output_message = [](j_common_ptr) {};
  err.message[0] = '\0';
}

// Returns false (with the message in `err`) on failure; `out` is written only through the pointer.
bool run_decode(jpeg_decompress_struct* cinfo, ErrorManager* err, const uint8_t* data, size_t size, JpegColor color,
                Image* out) {
  if (setjmp(err->jump)) return false;
  jpeg_create_decompress(cinfo);
  jpeg_mem_src(cinfo, const_cast<unsigned char*>(data), static_cast<unsigned long>(size));
  jpeg_read_header(cinfo, TRUE);
  // Colour files are always decoded to RGB: for Gray, PIL's luma is then computed from RGB
  // (libjpeg's own Y channel differs by one grey level now and then).
  const bool gray_file = cinfo->jpeg_color_space == JCS_GRAYSCALE;
  cinfo->out_color_space = color == JpegColor::Gray && gray_file ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_start_decompress(cinfo);
  *out = Image(static_cast<int>(cinfo->output_height), static_cast<int>(cinfo->output_width),
               static_cast<int>(cinfo->output_components));
  while (cinfo->output_scanline < cinfo->output_height) {
    JSAMPROW row = out->row(static_cast<int>(cinfo->output_scanline));
    jpeg_read_scanlines(cinfo, &row, 1);
  }
  jpeg_finish_decompress(cinfo);
  return true;
}

bool run_encode(jpeg_compress_struct* cinfo, ErrorManager* err, const Image* image, int quality, unsigned char** buf,
                unsigned long* size) {
  if (setjmp(err->jump)) return false;
  jpeg_create_compress(cinfo);
  jpeg_mem_dest(cinfo, buf, size);
  cinfo->image_width = static_cast<JDIMENSION>(image->width);
  cinfo->image_height = static_cast<JDIMENSION>(image->height);
  cinfo->input_components = image->channels;
  cinfo->in_color_space = image->channels == 3 ? JCS_RGB : JCS_GRAYSCALE;
  jpeg_set_defaults(cinfo);
  jpeg_set_quality(cinfo, quality, TRUE);
  jpeg_start_compress(cinfo, TRUE);
  while (cinfo->next_scanline < cinfo->image_height) {
    JSAMPROW row = const_cast<JSAMPROW>(image->row(static_cast<int>(cinfo->next_scanline)));
    jpeg_write_scanlines(cinfo, &row, 1);
  }
  jpeg_finish_compress(cinfo);
  return true;
}

// PIL's convert('L'): ITU-R 601-2 luma in 16-bit fixed point, rounded.
Image to_luma(const Image& rgb) {
  Image out(rgb.height, rgb.width, 1);
  const uint8_t* p = rgb.pixels.data();
  for (size_t i = 0; i < out.pixels.size(); ++i, p += 3)
    out.pixels[i] = static_cast<uint8_t>((p[0] * 19595 + p[1] * 38470 + p[2] * 7471 + 0x8000) >> 16);
  return out;
}

}  // namespace

Image decode_jpeg(const uint8_t* data, size_t size, JpegColor color, const std::string& name) {
  if (size == 0) fail("{}: empty file, not a JPEG", name);
  if (size < 3 || data[0] != 0xFF || data[1] != 0xD8) fail("{}: not a JPEG file (no SOI marker)", name);
  jpeg_decompress_struct cinfo{};
  ErrorManager err;
  install(err);
  cinfo.err = &err.pub;
  Image image;
  const bool ok = run_decode(&cinfo, &err, data, size, color, &image);
  jpeg_destroy_decompress(&cinfo);
  if (!ok) fail("{}: corrupt JPEG: {}", name, err.message);
  return color == JpegColor::Gray && image.channels == 3 ? to_luma(image) : image;
}

Image read_jpeg(const std::string& path, JpegColor color) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: cannot open JPEG file", path);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) fail("{}: error reading JPEG file", path);
  return decode_jpeg(bytes.data(), bytes.size(), color, path);
}

std::vector<uint8_t> encode_jpeg(const Image& image, int quality) {
  if (image.channels != 1 && image.channels != 3)
    fail("encode_jpeg: need 1 or 3 channels (got {})", image.channels);
  if (image.height <= 0 || image.width <= 0 || image.height > 65500 || image.width > 65500)
    fail("encode_jpeg: bad image size {}x{}", image.height, image.width);
  if (image.pixels.size() != static_cast<size_t>(image.height) * image.width * image.channels)
    fail("encode_jpeg: {} pixel bytes for a {}x{}x{} image", image.pixels.size(), image.height, image.width,
         image.channels);
  if (quality < 1 || quality > 100) fail("encode_jpeg: quality must be in 1..100 (got {})", quality);
  jpeg_compress_struct cinfo{};
  ErrorManager err;
  install(err);
  cinfo.err = &err.pub;
  unsigned char* buf = nullptr;
  unsigned long size = 0;
  const bool ok = run_encode(&cinfo, &err, &image, quality, &buf, &size);
  jpeg_destroy_compress(&cinfo);
  std::vector<uint8_t> out;
  if (ok) out.assign(buf, buf + size);
  std::free(buf);  // jpeg_mem_dest allocates with malloc
  if (!ok) fail("encode_jpeg: {}", err.message);
  return out;
}

void write_jpeg(const std::string& path, const Image& image, int quality) {
  std::vector<uint8_t> bytes;
  try {
    bytes = encode_jpeg(image, quality);
  } catch (const Error& e) {
    fail("{}: {}", path, e.what());
  }
  write_file_atomically(path, bytes.data(), bytes.size());
}

}  // namespace crmt
