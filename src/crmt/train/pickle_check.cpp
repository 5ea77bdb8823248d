#include "crmt/train/pickle_check.h"

#include <algorithm>
#include <cctype>
#include <memory>

#include "crmt/core/error.h"

namespace crmt {
namespace {

enum class Kind { Int, Float, Str, Bool, None, Tuple, List, Dict, Tensor, Object, Global };
enum class Global { ModuleClass, NewModule, RebuildTensor, OrderedDict, BuildIntList, Storage };

// One stack entry: its kind and what later opcodes inspect (an integer's value, a short string, a
// tuple's elements, a storage's element size, a tensor's element count). Elements are shared, so
// memo copies cost nothing however the pickle nests them.
struct Value;
using Ref = std::shared_ptr<const Value>;
struct Value {
  Kind kind = Kind::None;
  int64_t integer = 0;        // Int; Tensor: storage elements; Global Storage: bytes per element
  std::string text;           // Str (kept only when short: only keys and devices are read)
  std::vector<Ref> items;     // Tuple
  Global global = Global::ModuleClass;
  int depth = 1;
};

constexpr int kMaxDepth = 32;        // LibTorch's archives nest 4 deep; deep nesting recurses
constexpr size_t kMaxTuple = 64;     // its tuples: a storage key (5), tensor arguments (6), shapes
constexpr size_t kMaxShortText = 256;
constexpr size_t kMaxMemo = 1 << 24;

Ref make(Kind kind) {
  auto v = std::make_shared<Value>();
  v->kind = kind;
  return v;
}

Ref make_int(int64_t value) {
  auto v = std::make_shared<Value>();
  v->kind = Kind::Int;
  v->integer = value;
  return v;
}

Ref make_global(Global global, int64_t integer = 0) {
  auto v = std::make_shared<Value>();
  v->kind = Kind::Global;
  v->global = global;
  v->integer = integer;
  return v;
}

int64_t storage_item_size(const std::string& name) {
  static const std::pair<const char*, int64_t> kStorages[] = {
      {"FloatStorage", 4}, {"DoubleStorage", 8}, {"HalfStorage", 2},          {"BFloat16Storage", 2},
      {"LongStorage", 8},  {"IntStorage", 4},    {"ShortStorage", 2},         {"CharStorage", 1},
      {"ByteStorage", 1},  {"BoolStorage", 1},   {"ComplexFloatStorage", 8}, {"ComplexDoubleStorage", 16}};
  for (const auto& [storage, size] : kStorages)
    if (name == storage) return size;
  return 0;
}

bool is_module_class(const std::string& module, const std::string& name) {
  if (name != "Module") return false;
  if (module == "__torch__") return true;
  const std::string mangled = "__torch__.___torch_mangle_";
  return module.size() > mangled.size() && module.size() < mangled.size() + 10 &&
         module.compare(0, mangled.size(), mangled) == 0 &&
         module.find_first_not_of("0123456789", mangled.size()) == std::string::npos;
}

class PickleWalk {
 public:
  PickleWalk(const std::vector<uint8_t>& p, const PickleRecords& records) : p_(p), records_(records) {}

  void run() {
    if (take(1) != 0x80 || take(1) != 2) refuse("not a protocol-2 pickle");
    while (at_ < p_.size()) {
      const uint8_t op = take(1);
      if (op == '.') {
        if (stack_.size() != 1 || !marks_.empty()) refuse("STOP with " + std::to_string(stack_.size()) + " values left");
        return;
      }
      step(op);
    }
    refuse("no STOP opcode");
  }

 private:
  [[noreturn]] void refuse(const std::string& why) const {
    fail("{} (at byte {})", why, at_ > 0 ? at_ - 1 : 0);
  }

  uint64_t take(int bytes) {  // little-endian unsigned
    if (static_cast<size_t>(bytes) > p_.size() - at_) refuse("truncated");
    uint64_t n = 0;
    for (int b = bytes - 1; b >= 0; --b) n = n << 8 | p_[at_ + b];
    at_ += bytes;
    return n;
  }

  std::string line() {
    const auto begin = p_.begin() + static_cast<std::ptrdiff_t>(at_);
    const auto end = std::find(begin, std::min(p_.end(), begin + 512), '\n');
    if (end == p_.end() || *end != '\n') refuse("unterminated or overlong name");
    std::string text(begin, end);
    at_ = static_cast<size_t>(end - p_.begin()) + 1;
    return text;
  }

  size_t frame_start() const { return marks_.empty() ? 0 : marks_.back(); }

  // The top `n` values of the current frame (those after the last MARK), removed.
  std::vector<Ref> pop(size_t n, const char* op) {
    if (stack_.size() - frame_start() < n) refuse(std::string(op) + " on too few values");
    std::vector<Ref> values(stack_.end() - static_cast<std::ptrdiff_t>(n), stack_.end());
    stack_.resize(stack_.size() - n);
    return values;
  }

  // Everything pushed since the last MARK, removed with the mark.
  std::vector<Ref> pop_to_mark(const char* op) {
    if (marks_.empty()) refuse(std::string(op) + " without MARK");
    const size_t start = marks_.back();
    marks_.pop_back();
    std::vector<Ref> values(stack_.begin() + static_cast<std::ptrdiff_t>(start), stack_.end());
    stack_.resize(start);
    return values;
  }

  void push(Ref v) {
    if (v->depth > kMaxDepth) refuse("values nested too deep");
    stack_.push_back(std::move(v));
  }

  Ref tuple(std::vector<Ref> items) {
    if (items.size() > kMaxTuple) refuse("a tuple of " + std::to_string(items.size()) + " values");
    auto v = std::make_shared<Value>();
    v->kind = Kind::Tuple;
    for (const auto& item : items) v->depth = std::max(v->depth, item->depth + 1);
    v->items = std::move(items);
    return v;
  }

  void global() {
    const auto module = line(), name = line();
    if (is_module_class(module, name)) return push(make_global(Global::ModuleClass));
    if (module == "torch._utils" && name == "_rebuild_tensor_v2") return push(make_global(Global::RebuildTensor));
    if (module == "collections" && name == "OrderedDict") return push(make_global(Global::OrderedDict));
    if (module == "torch.jit._pickle" && name == "build_intlist") return push(make_global(Global::BuildIntList));
    if (module == "torch" && storage_item_size(name) > 0)
      return push(make_global(Global::Storage, storage_item_size(name)));
    refuse("unexpected class '" + module + "." + name + "'");
  }

  static bool is(const Ref& v, Kind kind) { return v->kind == kind; }
  static bool is_global(const Ref& v, Global g) { return v->kind == Kind::Global && v->global == g; }

  // BINPERSID's ('storage', <dtype storage>, key, device, elements): the record must hold them.
  void persistent_storage() {
    const auto id = pop(1, "BINPERSID")[0];
    const auto& a = id->items;
    if (!is(id, Kind::Tuple) || a.size() != 5 || !is(a[0], Kind::Str) || a[0]->text != "storage" ||
        !is_global(a[1], Global::Storage) || !is(a[2], Kind::Str) || !is(a[3], Kind::Str) || !is(a[4], Kind::Int))
      refuse("a persistent id that is not a storage");
    const auto& device = a[3]->text;
    if (device != "cpu" && device.rfind("cuda", 0) != 0) refuse("storage on device '" + device + "'");
    const int64_t elements = a[4]->integer, item = a[1]->integer;
    if (elements < 0 || elements > (int64_t{1} << 40)) refuse("a storage of " + std::to_string(elements) + " elements");
    if (a[2]->text.empty() || a[2]->text.find_first_of("/\\") != std::string::npos) refuse("a bad storage key");
    if (elements > 0) {
      const auto stored = records_.stored_size(records_.data_prefix + a[2]->text);
      if (!stored) refuse("storage record '" + a[2]->text + "' is missing or compressed");
      if (*stored < static_cast<uint64_t>(elements * item))
        refuse("storage record '" + a[2]->text + "' holds " + std::to_string(*stored) + " bytes, not " +
               std::to_string(elements * item));
    }
    auto tensor = std::make_shared<Value>();
    tensor->kind = Kind::Tensor;
    tensor->integer = elements;
    push(tensor);
  }

  // _rebuild_tensor_v2(storage, offset, sizes, strides, requires_grad, hooks): the view must lie
  // inside its storage.
  Ref rebuild_tensor(const Ref& args) {
    const auto& a = args->items;
    if (a.size() != 6 || !is(a[0], Kind::Tensor) || !is(a[1], Kind::Int) || !is(a[2], Kind::Tuple) ||
        !is(a[3], Kind::Tuple) || !is(a[4], Kind::Bool) || !is(a[5], Kind::None) ||
        a[2]->items.size() != a[3]->items.size())
      refuse("bad tensor arguments");
    constexpr int64_t kLimit = int64_t{1} << 40;
    const int64_t offset = a[1]->integer;
    if (offset < 0 || offset > kLimit) refuse("bad tensor offset");
    int64_t last = offset;  // index of the last element the view reaches
    bool empty = false;
    for (size_t d = 0; d < a[2]->items.size(); ++d) {
      const auto &size = a[2]->items[d], &stride = a[3]->items[d];
      if (!is(size, Kind::Int) || !is(stride, Kind::Int) || size->integer < 0 || size->integer > kLimit ||
          stride->integer < 0 || stride->integer > kLimit)
        refuse("bad tensor shape");
      if (size->integer == 0) empty = true;
      else if ((size->integer - 1) > 0 && stride->integer > (kLimit - last) / (size->integer - 1))
        refuse("bad tensor shape");
      else last += (size->integer - 1) * stride->integer;
    }
    if (!empty && last >= a[0]->integer) refuse("a tensor that reaches past its storage");
    auto tensor = std::make_shared<Value>();
    tensor->kind = Kind::Tensor;
    return tensor;
  }

  void reduce() {
    const auto values = pop(2, "REDUCE");
    const auto &function = values[0], &args = values[1];
    if (!is(args, Kind::Tuple)) refuse("REDUCE without an argument tuple");
    if (is_global(function, Global::RebuildTensor)) return push(rebuild_tensor(args));
    if (is_global(function, Global::OrderedDict)) {
      if (!args->items.empty()) refuse("OrderedDict with arguments");
      return push(make(Kind::None));  // LibTorch replaces it by None
    }
    if (is_global(function, Global::BuildIntList)) {
      if (args->items.size() != 1 || !is(args->items[0], Kind::List)) refuse("build_intlist without a list");
      return push(make(Kind::List));
    }
    refuse("REDUCE of something that is not a function LibTorch writes");
  }

  void step(uint8_t op) {
    switch (op) {
      case 'c': return global();
      case '(': marks_.push_back(stack_.size()); return;
      case ')': return push(tuple({}));
      case ']': return push(make(Kind::List));
      case '}': return push(make(Kind::Dict));
      case 'N': return push(make(Kind::None));
      case 0x88: case 0x89: return push(make(Kind::Bool));
      case 'K': return push(make_int(static_cast<int64_t>(take(1))));
      case 'M': return push(make_int(static_cast<int64_t>(take(2))));
      case 'J': return push(make_int(static_cast<int32_t>(take(4))));
      case 0x8a:
        if (take(1) != 8) refuse("LONG1 of a length other than 8");
        return push(make_int(static_cast<int64_t>(take(8))));
      case 'G': take(8); return push(make(Kind::Float));
      case 'X': {
        const uint64_t n = take(4);
        if (n > p_.size() - at_) refuse("truncated string");
        auto v = std::make_shared<Value>();
        v->kind = Kind::Str;
        if (n <= kMaxShortText) v->text.assign(p_.begin() + static_cast<std::ptrdiff_t>(at_),
                                               p_.begin() + static_cast<std::ptrdiff_t>(at_ + n));
        at_ += n;
        return push(v);
      }
      case 't': return push(tuple(pop_to_mark("TUPLE")));
      case 0x85: return push(tuple(pop(1, "TUPLE1")));
      case 0x86: return push(tuple(pop(2, "TUPLE2")));
      case 0x87: return push(tuple(pop(3, "TUPLE3")));
      case 'e': {  // APPENDS: the list sits just below the mark
        if (!container_below_mark(Kind::List))
          refuse("APPENDS without a list");
        pop_to_mark("APPENDS");
        return;
      }
      case 'u': {  // SETITEMS: the dict sits just below the mark; string keys, in pairs
        if (!container_below_mark(Kind::Dict))
          refuse("SETITEMS without a dict");
        const auto items = pop_to_mark("SETITEMS");
        if (items.size() % 2 != 0) refuse("SETITEMS with an odd number of values");
        for (size_t i = 0; i < items.size(); i += 2)
          if (!is(items[i], Kind::Str)) refuse("a dict key that is not a string");
        return;
      }
      case 0x81: {  // NEWOBJ: class and empty tuple; BUILD then gives it its attributes
        const auto values = pop(2, "NEWOBJ");
        if (!is_global(values[0], Global::ModuleClass) || !is(values[1], Kind::Tuple) || !values[1]->items.empty())
          refuse("NEWOBJ of something that is not a module class");
        return push(make_global(Global::NewModule));
      }
      case 'b': {
        const auto values = pop(2, "BUILD");
        if (!is_global(values[0], Global::NewModule) || !is(values[1], Kind::Dict))
          refuse("BUILD of something that is not a new module");
        return push(make(Kind::Object));
      }
      case 'R': return reduce();
      case 'Q': return persistent_storage();
      case 'q': return put(take(1));
      case 'r': return put(take(4));
      case 'h': return get(take(1));
      case 'j': return get(take(4));
      default: refuse("unexpected pickle opcode " + std::to_string(op));
    }
  }

  // APPENDS and SETITEMS fill the container just below the last mark, inside the frame below it.
  bool container_below_mark(Kind kind) const {
    if (marks_.empty()) return false;
    const size_t start = marks_.back(), below = marks_.size() >= 2 ? marks_[marks_.size() - 2] : 0;
    return start > below && is(stack_[start - 1], kind);
  }

  void put(uint64_t id) {
    if (stack_.size() == frame_start()) refuse("BINPUT on an empty stack");
    if (id > memo_.size() || id >= kMaxMemo) refuse("memo index " + std::to_string(id) + " out of order");
    if (id == memo_.size()) memo_.push_back(stack_.back());
    else memo_[id] = stack_.back();
  }

  void get(uint64_t id) {
    if (id >= memo_.size()) refuse("memo index " + std::to_string(id) + " never stored");
    push(memo_[id]);
  }

  const std::vector<uint8_t>& p_;
  const PickleRecords& records_;
  size_t at_ = 0;
  std::vector<Ref> stack_;
  std::vector<size_t> marks_;
  std::vector<Ref> memo_;
};

bool is_identifier(const std::string& s) {
  if (s.empty() || s.size() > 256 || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

bool is_attribute_type(const std::string& t) {
  static const char* kTypes[] = {"Tensor", "str", "int", "float", "bool", "Optional[bool]", "Optional[Tensor]"};
  for (const char* k : kTypes)
    if (t == k) return true;
  const std::string suffix = ".Module";  // a module class: __torch__.Module, __torch__.___torch_mangle_N.Module
  return t.size() > suffix.size() && t.compare(t.size() - suffix.size(), suffix.size(), suffix) == 0 &&
         is_module_class(t.substr(0, t.size() - suffix.size()), "Module");
}

// A quoted attribute name: printable, no quote or backslash (LibTorch writes names as they are).
bool is_quoted_name(const std::string& s, size_t begin, size_t end) {
  if (end - begin < 2 || s[begin] != '"' || s[end - 1] != '"') return false;
  for (size_t i = begin + 1; i + 1 < end; ++i)
    if (s[i] == '"' || s[i] == '\\' || static_cast<unsigned char>(s[i]) < 0x20 || static_cast<unsigned char>(s[i]) > 0x7e)
      return false;
  return true;
}

// `["a", "b", ]` or `[]`.
bool is_name_list(const std::string& s) {
  if (s.size() < 2 || s.front() != '[' || s.back() != ']') return false;
  size_t i = 1;
  while (i + 1 < s.size()) {
    const size_t close = s.find('"', i + 1);
    if (s[i] != '"' || close == std::string::npos || !is_quoted_name(s, i, close + 1)) return false;
    if (s.compare(close + 1, 2, ", ") != 0) return false;
    i = close + 3;
  }
  return i == s.size() - 1;
}

bool is_module_source_line(const std::string& l) {
  if (l.empty() || l == "class Module(Module):") return true;
  if (l.rfind("  ", 0) != 0) return false;
  const std::string body = l.substr(2);
  for (const char* list : {"__parameters__ = ", "__buffers__ = "})
    if (body.rfind(list, 0) == 0) return is_name_list(body.substr(std::string(list).size()));
  if (body == "__annotations__ = []") return true;
  const std::string annotation = "__annotations__[";
  if (body.rfind(annotation, 0) == 0) {
    const size_t close = body.find("] = ", annotation.size());
    return close != std::string::npos && is_quoted_name(body, annotation.size(), close) &&
           is_attribute_type(body.substr(close + 4));
  }
  const size_t colon = body.find(" : ");
  return colon != std::string::npos && is_identifier(body.substr(0, colon)) &&
         is_attribute_type(body.substr(colon + 3));
}

}  // namespace

void check_torch_pickle(const std::vector<uint8_t>& pickle, const PickleRecords& records) {
  PickleWalk(pickle, records).run();
}

void check_module_source(const std::string& source) {
  size_t line_number = 1;
  for (size_t begin = 0; begin <= source.size(); ++line_number) {
    size_t end = source.find('\n', begin);
    if (end == std::string::npos) end = source.size();
    const std::string l = source.substr(begin, end - begin);
    if (!is_module_source_line(l))
      fail("line {} is not an attribute declaration: '{}'", line_number, l.substr(0, 80));
    begin = end + 1;
  }
}

}  // namespace crmt
