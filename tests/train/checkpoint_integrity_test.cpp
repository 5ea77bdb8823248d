#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "crmt/train/checkpoint_info.h"
#include "crmt/train/checkpoint_integrity.h"
#include "crmt/train/pickle_check.h"
#include "test_util.h"

namespace crmt {
namespace {

namespace fs = std::filesystem;
using test::error_of;

// Writes protocol-2 pickles opcode by opcode, as LibTorch's writer does.
struct Pickle {
  std::vector<uint8_t> bytes{0x80, 2};
  Pickle& op(uint8_t code) { return bytes.push_back(code), *this; }
  Pickle& u32(uint32_t v) {
    for (int i = 0; i < 4; ++i) bytes.push_back(static_cast<uint8_t>(v >> (8 * i)));
    return *this;
  }
  Pickle& str(const std::string& s) {
    op('X').u32(static_cast<uint32_t>(s.size()));
    bytes.insert(bytes.end(), s.begin(), s.end());
    return *this;
  }
  Pickle& global(const std::string& module, const std::string& name) {
    op('c');
    for (const auto& part : {module, name}) {
      bytes.insert(bytes.end(), part.begin(), part.end());
      bytes.push_back('\n');
    }
    return *this;
  }
  Pickle& int1(uint8_t v) { return op('K').op(v); }
  Pickle& put(uint8_t id) { return op('q').op(id); }
  Pickle& get(uint8_t id) { return op('h').op(id); }
  // _rebuild_tensor_v2((storage key, `elements` floats), 0, (size,), (1,), False, OrderedDict())
  Pickle& tensor(const std::string& key, uint8_t elements, uint8_t size) {
    global("torch._utils", "_rebuild_tensor_v2").op('(');
    op('(').str("storage").global("torch", "FloatStorage").str(key).str("cpu").int1(elements).op('t').op('Q');
    int1(0).op('(').int1(size).op('t').op('(').int1(1).op('t').op(0x89);
    global("collections", "OrderedDict").op(')').op('R');
    return op('t').op('R');
  }
  // A module holding attribute "w", a tensor of 4 floats, as crmt's checkpoints hold their fields.
  static Pickle module_with(const std::function<void(Pickle&)>& attributes) {
    Pickle p;
    p.global("__torch__", "Module").put(0).op(')').op(0x81).op('}').op('(');
    attributes(p);
    p.op('u').op('b').op('.');
    return p;
  }
};

PickleRecords records_of(std::map<std::string, uint64_t> sizes) {
  PickleRecords r;
  r.data_prefix = "archive/data/";
  r.stored_size = [sizes](const std::string& name) -> std::optional<uint64_t> {
    const auto it = sizes.find(name);
    if (it == sizes.end()) return std::nullopt;
    return it->second;
  };
  return r;
}

std::string pickle_error(const Pickle& p, const PickleRecords& r = records_of({{"archive/data/0", 16}})) {
  return error_of([&] { check_torch_pickle(p.bytes, r); });
}

TEST(PickleCheck, WhatLibTorchWritesPasses) {
  const auto valid = Pickle::module_with([](Pickle& p) {
    p.str("format").put(1).str("crmt-checkpoint-1").str("w").tensor("0", 4, 4).put(2);
    p.str("again").get(2).str("epoch").int1(3);
  });
  EXPECT_EQ(pickle_error(valid), "");
}

TEST(PickleCheck, ForgedPicklesThatWouldReadOutOfBoundsAreRefused) {
  // A storage claiming more floats than its record holds (LibTorch would read past the record).
  EXPECT_NE(pickle_error(Pickle::module_with([](Pickle& p) { p.str("w").tensor("0", 100, 4); })).find("holds 16 bytes"),
            std::string::npos);
  // A storage record that is not there.
  EXPECT_NE(pickle_error(Pickle::module_with([](Pickle& p) { p.str("w").tensor("7", 4, 4); })).find("missing"),
            std::string::npos);
  // A view reaching past its storage.
  EXPECT_NE(pickle_error(Pickle::module_with([](Pickle& p) { p.str("w").tensor("0", 4, 9); })).find("past its storage"),
            std::string::npos);
  // SETITEMS with a key and no value (LibTorch reads one past the stack).
  EXPECT_NE(pickle_error(Pickle::module_with([](Pickle& p) { p.str("w"); })).find("odd"), std::string::npos);
  // Opcodes on an empty stack, memo indices never stored or far out of order.
  Pickle empty;
  empty.op('R').op('.');
  EXPECT_NE(pickle_error(empty).find("too few values"), std::string::npos);
  EXPECT_NE(pickle_error(Pickle::module_with([](Pickle& p) { p.str("w").get(9); })).find("never stored"),
            std::string::npos);
  Pickle far;
  far.str("x").op('r').u32(4000000000u).op('.');
  EXPECT_NE(pickle_error(far).find("out of order"), std::string::npos);
  // A popping opcode that reaches below its MARK, a BUILD of a plain dict, an unknown global.
  Pickle below;
  below.int1(1).int1(2).op('(').op(0x86).op('.');
  EXPECT_NE(pickle_error(below).find("too few values"), std::string::npos);
  Pickle build;
  build.op('}').op('}').op('b').op('.');
  EXPECT_NE(pickle_error(build).find("not a new module"), std::string::npos);
  Pickle os;
  os.global("os", "system").op('.');
  EXPECT_NE(pickle_error(os).find("os.system"), std::string::npos);
  // Deep nesting (LibTorch recurses through it), truncation, leftovers at STOP.
  Pickle deep;
  deep.int1(0);
  for (int i = 0; i < 100; ++i) deep.op(0x85);
  deep.op('.');
  EXPECT_NE(pickle_error(deep).find("nested too deep"), std::string::npos);
  Pickle truncated = Pickle::module_with([](Pickle& p) { p.str("w").tensor("0", 4, 4); });
  truncated.bytes.resize(truncated.bytes.size() - 5);
  EXPECT_NE(pickle_error(truncated), "");
  Pickle two;
  two.int1(1).int1(2).op('.');
  EXPECT_NE(pickle_error(two).find("2 values left"), std::string::npos);
}

TEST(ModuleSource, OnlyAttributeDeclarationsPass) {
  EXPECT_EQ(error_of([] {
              check_module_source(
                  "class Module(Module):\n  __parameters__ = [\"a.weight\", \"a.bias\", ]\n  __buffers__ = []\n"
                  "  __annotations__ = []\n  __annotations__[\"a.weight\"] = Tensor\n  epoch : int\n"
                  "  model : __torch__.___torch_mangle_3.Module\n");
            }),
            "");
  for (const std::string bad : {"class Module(Module):\n  def forward(self):\n    return 1\n",
                                "import os\n", "class Module(Module):\n  x : Dict[str, Tensor]\n",
                                "class Module(Module):\n  __parameters__ = [\"a\\\"\", ]\n",
                                "class Module(Module):\n  m : __torch__.___torch_mangle_x.Module\n"})
    EXPECT_NE(error_of([&] { check_module_source(bad); }).find("not an attribute declaration"), std::string::npos)
        << bad;
}

const fs::path kCorpus = fs::path(CRMT_SOURCE_DIR) / "fuzz" / "corpus" / "checkpoint";

TEST(CheckpointIntegrity, ARealCheckpointPassesAndLoads) {
  const auto path = (kCorpus / "tiny_mlp.pt").string();
  EXPECT_EQ(error_of([&] { check_checkpoint_integrity(path); }), "");
  EXPECT_EQ(read_checkpoint_info(path).epoch, 1);
}

// Files the fuzzer forged: each once ended the process inside LibTorch's reader.
TEST(CheckpointIntegrity, FilesThatCrashedLibTorchAreRefusedNamingTheFile) {
  for (const char* name : {"crash-forged-unpickler-segv.pt", "crash-forged-type-name.pt", "crash-bad-type-name.pt"}) {
    const auto path = (kCorpus / name).string();
    const auto msg = error_of([&] { read_checkpoint_info(path); });
    EXPECT_NE(msg.find(path), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
  // The SEGV crasher differs from the intact file in two bytes: a duplicated record name, and one
  // byte of the deflated class source (whose CRC-32 LibTorch never checks). Each alone is refused.
  const auto intact = test::read_file(kCorpus / "tiny_mlp.pt");
  const auto forged = test::read_file(kCorpus / "crash-forged-unpickler-segv.pt");
  ASSERT_EQ(intact.size(), forged.size());
  std::vector<size_t> differences;
  for (size_t i = 0; i < intact.size(); ++i)
    if (intact[i] != forged[i]) differences.push_back(i);
  ASSERT_EQ(differences.size(), 2u);
  const auto dir = test::temp_dir("integrity");
  const std::string expected[] = {"CRC-32 of its record 'archive/code/__torch__.py'", "appears twice"};
  for (size_t k = 0; k < 2; ++k) {
    auto bytes = intact;
    bytes[differences[k]] = forged[differences[k]];
    const auto path = (dir / ("forged" + std::to_string(k) + ".pt")).string();
    std::ofstream(path, std::ios::binary) << bytes;
    const auto msg = error_of([&] { check_checkpoint_integrity(path); });
    EXPECT_NE(msg.find(expected[k]), std::string::npos) << msg;
  }
}

}  // namespace
}  // namespace crmt
