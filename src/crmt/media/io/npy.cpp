#include "crmt/media/io/npy.h"

#include <cctype>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <ostream>

#include "crmt/core/error.h"

namespace crmt {

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicLen = 6;

struct DtypeInfo {
  const char* code;  // descr without the byte-order character
  NpyDtype type;
  size_t size;
};

constexpr DtypeInfo kDtypes[] = {
    {"f2", NpyDtype::f2, 2}, {"f4", NpyDtype::f4, 4}, {"f8", NpyDtype::f8, 8},
    {"u1", NpyDtype::u1, 1}, {"i1", NpyDtype::i1, 1}, {"i2", NpyDtype::i2, 2},
    {"i4", NpyDtype::i4, 4}, {"i8", NpyDtype::i8, 8}, {"b1", NpyDtype::b1, 1},
};

const DtypeInfo& info_of(NpyDtype type) {
  for (const auto& d : kDtypes)
    if (d.type == type) return d;
  fail("npy: unknown dtype {}", static_cast<int>(type));
}

std::string descr_of(NpyDtype type) {
  const auto& d = info_of(type);
  return (d.size == 1 ? "|" : "<") + std::string(d.code);
}

// A tiny reader for the Python dict literal of the header: only the three keys NumPy writes.
class HeaderParser {
 public:
  HeaderParser(const std::string& text, const std::string& path) : s_(text), path_(path) {}

  NpyHeader parse() {
    NpyHeader h;
    bool have_descr = false, have_order = false, have_shape = false;
    expect('{');
    while (true) {
      skip_space();
      if (peek() == '}') break;
      std::string key = quoted();
      expect(':');
      if (key == "descr") {
        h.descr = quoted();
        have_descr = true;
      } else if (key == "fortran_order") {
        h.fortran_order = boolean();
        have_order = true;
      } else if (key == "shape") {
        h.shape = tuple();
        have_shape = true;
      } else {
        bad("unknown key '" + key + "'");
      }
      skip_space();
      if (peek() == ',') ++pos_;
    }
    if (!have_descr || !have_order || !have_shape) bad("needs 'descr', 'fortran_order' and 'shape'");
    return h;
  }

 private:
  [[noreturn]] void bad(const std::string& why) const {
    fail("{}: malformed .npy header ({}): {}", path_, why, s_);
  }
  void skip_space() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  char peek() {
    skip_space();
    if (pos_ >= s_.size()) bad("unexpected end");
    return s_[pos_];
  }
  void expect(char c) {
    if (peek() != c) bad(std::string("expected '") + c + "'");
    ++pos_;
  }
  std::string quoted() {
    char q = peek();
    if (q != '\'' && q != '"') bad("expected a string");
    size_t end = s_.find(q, pos_ + 1);
    if (end == std::string::npos) bad("unterminated string");
    std::string out = s_.substr(pos_ + 1, end - pos_ - 1);
    pos_ = end + 1;
    return out;
  }
  bool boolean() {
    skip_space();
    if (s_.compare(pos_, 4, "True") == 0) return pos_ += 4, true;
    if (s_.compare(pos_, 5, "False") == 0) return pos_ += 5, false;
    bad("expected True or False");
  }
  std::vector<int64_t> tuple() {
    std::vector<int64_t> dims;
    expect('(');
    while (peek() != ')') {
      size_t start = pos_;
      int64_t v = 0;
      while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) {
        if (v > (std::numeric_limits<int64_t>::max() - 9) / 10) bad("dimension too large");
        v = v * 10 + (s_[pos_++] - '0');
      }
      if (pos_ == start) bad("expected a dimension");
      while (pos_ < s_.size() && (s_[pos_] == 'L')) ++pos_;  // Python 2 longs
      dims.push_back(v);
      if (peek() == ',') ++pos_;
    }
    ++pos_;
    return dims;
  }

  const std::string& s_;
  const std::string& path_;
  size_t pos_ = 0;
};

uint64_t read_le(const unsigned char* p, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

NpyHeader read_header(std::ifstream& in, const std::string& path) {
  unsigned char pre[12];
  in.read(reinterpret_cast<char*>(pre), 10);
  if (in.gcount() < 10 || std::memcmp(pre, kMagic, kMagicLen) != 0) fail("{}: not an .npy file (bad magic)", path);
  const int major = pre[6];
  if (major < 1 || major > 3) fail("{}: unsupported .npy version {}.{}", path, major, int(pre[7]));
  uint64_t len = 0;
  int64_t prefix = 10;
  if (major == 1) {
    len = read_le(pre + 8, 2);
  } else {  // versions 2 and 3 have a 4-byte length
    in.read(reinterpret_cast<char*>(pre + 10), 2);
    if (in.gcount() < 2) fail("{}: truncated .npy header", path);
    len = read_le(pre + 8, 4);
    prefix = 12;
  }
  if (len > (1u << 24)) fail("{}: implausible .npy header length {}", path, len);
  std::string text(len, '\0');
  in.read(text.data(), static_cast<std::streamsize>(len));
  if (static_cast<uint64_t>(in.gcount()) < len) fail("{}: truncated .npy header", path);
  NpyHeader h = HeaderParser(text, path).parse();
  h.data_offset = prefix + static_cast<int64_t>(len);
  return h;
}

NpyDtype dtype_of(const std::string& descr, const std::string& path) {
  if (descr.size() != 3) fail("{}: unsupported .npy dtype '{}'", path, descr);
  const char order = descr[0];
  const std::string code = descr.substr(1);
  for (const auto& d : kDtypes) {
    if (code != d.code) continue;
    bool single_byte = d.size == 1;
    if (order == '>' && !single_byte) fail("{}: big-endian .npy data ('{}') is not supported", path, descr);
    if (order != '<' && order != '|' && order != '=' && !(order == '>' && single_byte))
      fail("{}: unsupported .npy byte order in '{}'", path, descr);
    return d.type;
  }
  fail("{}: unsupported .npy dtype '{}' (need f2, f4, f8, u1, i1, i2, i4, i8 or b1)", path, descr);
}

std::ifstream open_or_fail(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: cannot open .npy file", path);
  return in;
}

std::string header_text(NpyDtype type, const std::vector<int64_t>& dims) {
  const auto rank = dims.size();
  std::string shape = "(";
  for (size_t d = 0; d < rank; ++d) shape += std::to_string(dims[d]) + (rank == 1 ? "," : d + 1 < rank ? ", " : "");
  shape += ")";
  std::string dict = "{'descr': '" + descr_of(type) + "', 'fortran_order': False, 'shape': " + shape + ", }";
  // NumPy pads with spaces so that the data starts on a 64-byte boundary, and ends with '\n'.
  size_t total = 10 + dict.size() + 1;
  dict.append((64 - total % 64) % 64, ' ');
  dict += '\n';
  if (dict.size() > 65535) fail("write_npy: header too long for version 1.0 ({} bytes)", dict.size());
  std::string out(kMagic, kMagicLen);
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(dict.size() & 0xff);
  out += static_cast<char>(dict.size() >> 8);
  return out + dict;
}

}  // namespace

NpyHeader read_npy_header(const std::string& path) {
  auto in = open_or_fail(path);
  return read_header(in, path);
}

size_t npy_element_size(NpyDtype type) { return info_of(type).size; }

void read_npy(const std::string& path, const NpyAllocator& allocate) {
  auto in = open_or_fail(path);
  NpyHeader h = read_header(in, path);
  if (h.fortran_order) fail("{}: Fortran-order .npy arrays are not supported", path);
  const auto type = dtype_of(h.descr, path);
  int64_t count = 1;
  for (int64_t d : h.shape) {
    if (d != 0 && count > std::numeric_limits<int64_t>::max() / 16 / d) fail("{}: .npy shape too large", path);
    count *= d;
  }
  const auto bytes = static_cast<std::streamsize>(count * static_cast<int64_t>(npy_element_size(type)));
  // The header's shape is not trusted with the allocation: a file must hold the bytes it claims
  // (found by fuzz_npy: a 200-byte file asked for 700 TB).
  const auto data_start = in.tellg();
  in.seekg(0, std::ios::end);
  const auto available = static_cast<std::streamsize>(in.tellg() - data_start);
  in.seekg(data_start);
  if (available < bytes) fail("{}: truncated .npy data ({} of {} bytes)", path, available, bytes);
  auto* out = static_cast<char*>(allocate(type, h.shape));
  in.read(out, bytes);
  if (in.gcount() != bytes)
    fail("{}: truncated .npy data ({} of {} bytes)", path, in.gcount(), bytes);
  if (type == NpyDtype::b1) {
    // NumPy's bools are 0/1 bytes; anything else would be undefined behaviour for C++ bool.
    auto* p = reinterpret_cast<uint8_t*>(out);
    for (int64_t i = 0; i < count; ++i) p[i] = p[i] != 0;
  }
}

std::string encode_npy(NpyDtype type, const std::vector<int64_t>& shape, const void* data) {
  std::string out = header_text(type, shape);
  int64_t count = 1;
  for (int64_t d : shape) count *= d;
  const auto bytes = static_cast<size_t>(count) * npy_element_size(type);
  if (bytes > 0) out.append(static_cast<const char*>(data), bytes);
  return out;
}

}  // namespace crmt
