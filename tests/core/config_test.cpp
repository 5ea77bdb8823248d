#include "crmt/core/config.h"

#include <fstream>

#include <gtest/gtest.h>

#include "crmt/core/error.h"
#include "test_util.h"

namespace crmt {
namespace {

using test::write_file;
using test::error_of;

TEST(Config, FileAndOverridesReplaceDefaults) {
  auto dir = test::temp_dir("cfg");
  auto path = write_file(dir / "a.yaml", "train:\n  lr: 0.5\n  epochs: 7\nmodel:\n  encoder: mlp\n");
  auto cfg = Config::load(path, {"train.epochs=9", "output.dir=/x/y"});
  EXPECT_DOUBLE_EQ(cfg.real("train.lr"), 0.5);
  EXPECT_EQ(cfg.integer("train.epochs"), 9);
  EXPECT_EQ(cfg.str("model.encoder"), "mlp");
  EXPECT_EQ(cfg.str("output.dir"), "/x/y");
  EXPECT_DOUBLE_EQ(cfg.real("train.momentum"), Config().real("train.momentum"));
}

TEST(Config, UnknownKeyNamesTheKeyAndTheFile) {
  auto dir = test::temp_dir("cfg");
  auto path = write_file(dir / "bad.yaml", "train:\n  learning_rate: 0.5\n");
  auto msg = error_of([&] { Config::load(path); });
  EXPECT_NE(msg.find("train.learning_rate"), std::string::npos) << msg;
  EXPECT_NE(msg.find("bad.yaml"), std::string::npos) << msg;
  EXPECT_NE(error_of([] { Config::load("", {"nope.key=1"}); }).find("nope"), std::string::npos);
}

TEST(Config, WrongTypeNamesTheExpectedType) {
  auto dir = test::temp_dir("cfg");
  auto path = write_file(dir / "bad.yaml", "train:\n  epochs: many\n");
  auto msg = error_of([&] { Config::load(path); });
  EXPECT_NE(msg.find("train.epochs"), std::string::npos) << msg;
  EXPECT_NE(msg.find("integer"), std::string::npos) << msg;
  EXPECT_NE(error_of([] { Config::load("", {"output.progress=maybe"}); }).find("true or false"), std::string::npos);
  EXPECT_NE(error_of([] { Config::load("", {"train=3"}); }).find("section"), std::string::npos);
  // An integer is a valid number.
  EXPECT_DOUBLE_EQ(Config::load("", {"train.lr=1"}).real("train.lr"), 1.0);
}

TEST(Config, ShapesYamlAllowsButConfigsCannotHoldAreOneError) {
  // Found by fuzz_config: each of these escaped as a YAML exception (std::terminate in the fuzzer).
  auto top_list = error_of([] { Config::from_string("- a\n- b\n", "list.yaml"); });
  EXPECT_NE(top_list.find("list.yaml: a config must be a mapping"), std::string::npos) << top_list;
  auto map_in_list = error_of([] { Config::from_string("data:\n  modalities: [m:]\n", "m.yaml"); });
  EXPECT_NE(map_in_list.find("data.modalities"), std::string::npos) << map_in_list;
  auto list_key = error_of([] { Config::from_string("? [a, b]\n: 1\n", "key.yaml"); });
  EXPECT_NE(list_key.find("config keys must be plain names"), std::string::npos) << list_key;
  auto list_override = error_of([] { Config::load("", {"data.modalities=[[a]]"}); });
  EXPECT_NE(list_override.find("data.modalities"), std::string::npos) << list_override;
}

TEST(Config, MissingFileAndBadYamlAreErrors) {
  EXPECT_NE(error_of([] { Config::load("/nonexistent/c.yaml"); }).find("/nonexistent/c.yaml"), std::string::npos);
  auto dir = test::temp_dir("cfg");
  auto path = write_file(dir / "broken.yaml", "train: [unclosed\n");
  EXPECT_NE(error_of([&] { Config::load(path); }).find("broken.yaml"), std::string::npos);
  const auto empty = (test::temp_dir("cfg_empty") / "empty.yaml").string();
  std::ofstream(empty) << "# nothing but a comment\n";
  auto msg = error_of([&] { Config::load(empty); });
  EXPECT_NE(msg.find(empty), std::string::npos) << msg;
  EXPECT_NE(msg.find("empty"), std::string::npos) << msg;
  const auto list = (test::temp_dir("cfg_list") / "list.yaml").string();
  std::ofstream(list) << "- train\n";
  EXPECT_NE(error_of([&] { Config::load(list); }).find("mapping"), std::string::npos);
}

TEST(Config, ResolvedYamlRoundTrips) {
  auto cfg = Config::load("", {"train.lr=0.25", "crmt.rho=3.5", "data.name=synthetic"});
  auto again = Config::from_string(cfg.to_yaml(), "roundtrip");
  EXPECT_EQ(again.to_yaml(), cfg.to_yaml());
  EXPECT_DOUBLE_EQ(again.real("crmt.rho"), 3.5);
}

}  // namespace
}  // namespace crmt

namespace crmt {
namespace {

TEST(Config, MethodSectionsComeFromTheirOwnRegistrations) {
  const auto sections = registered_config_sections();
  const Config config;
  for (const std::string name : {"adversarial", "crmt", "gb", "mixup", "msefm", "ogm_ge", "pmr", "rmtl", "ume_mma"}) {
    EXPECT_NE(std::find(sections.begin(), sections.end(), name), sections.end()) << name;
    EXPECT_TRUE(config.has(name)) << name;
  }
  EXPECT_DOUBLE_EQ(config.real("crmt.rho"), 2.0);
  EXPECT_NE(test::error_of([] { Config::load("", {"crmt.rhoo=1"}); }).find("crmt.rhoo"), std::string::npos);
  EXPECT_NE(test::error_of([] { Config::load("", {"mixup.alpha=often"}); }).find("mixup.alpha"), std::string::npos);
}

}  // namespace
}  // namespace crmt
