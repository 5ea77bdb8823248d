// The bad-input matrix: every way a user's config, checkpoint, dataset files or command line can be
// wrong, through the command-line tool as a user meets it. Each case must end in exit status 1 and
// one error line naming the key or file at fault, or (the "accepted" cases) run to exit status 0.
// docs/reliability.md lists the cases and their outcomes.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>

#include "crmt/data/fixtures/make_fixture.h"
#include "crmt/data/npy_tensor.h"
#include "crmt/media/io/wav.h"
#include "test_util.h"

namespace crmt {
namespace {

namespace fs = std::filesystem;

// A fresh copy of a dataset's fixture (made once per test process) under `dir`/data.
fs::path fixture_copy(const std::string& dataset, const fs::path& dir) {
  static std::map<std::string, fs::path> made;
  if (!made.count(dataset)) {
    FixtureOptions o;
    o.dataset = dataset;
    o.out_dir = (test::temp_dir("matrix_fixture_" + dataset) / "data").string();
    o.clips = 4;
    make_fixture(o);
    made[dataset] = o.out_dir;
  }
  const auto root = dir / "data";
  fs::copy(made[dataset], root, fs::copy_options::recursive);
  return root;
}

void write(const fs::path& path, const std::string& text) { std::ofstream(path, std::ios::binary | std::ios::trunc) << text; }
void append(const fs::path& path, const std::string& text) { std::ofstream(path, std::ios::binary | std::ios::app) << text; }

// The first word of a file's first line (a clip name of an index).
std::string first_word(const fs::path& path) {
  std::ifstream in(path);
  std::string word;
  in >> word;
  return word;
}

// A small finished run (synthetic data, MLP encoders) in `dir`/run; returns its best.pt.
fs::path trained_run(const fs::path& dir) {
  const auto run = dir / "run";
  auto r = test::run_cli("train data.name=synthetic model.encoder=mlp train.epochs=1 output.progress=false --threads 1 "
                         "output.dir=" + run.string());
  EXPECT_EQ(r.exit_code, 0) << r.output;
  return run / "best.pt";
}

// A fast training command on a dataset fixture at `root`: no epoch, then the test evaluation.
std::string train_on(const std::string& dataset, const fs::path& root, const std::string& more = "") {
  return "train data.name=" + dataset + " data.root=" + root.string() + " data." + dataset +
         ".image_size=16 model.encoder=resnet18 data.val_fraction=0 train.epochs=0 output.progress=false --threads 1 " +
         "output.dir=" + (root.parent_path() / "run").string() + " " + more;
}

struct BadInputCase {
  std::string name;
  // Prepares files under the case's folder and returns the command line's arguments.
  std::function<std::string(const fs::path& dir)> setup;
  std::string must_mention;  // empty: accepted (exit status 0)
  // 2: `data prepare` finished but recorded a failed clip; the output names the reason.
  int status = 1;
};

void PrintTo(const BadInputCase& c, std::ostream* os) { *os << c.name; }

std::vector<BadInputCase> cases() {
  std::vector<BadInputCase> v;
  // Every run writes into its case's own folder: cases run in parallel, and a shared output folder
  // would stop one of them at the other's run lock.
  auto config_file = [](const std::string& text) {
    return [text](const fs::path& dir) {
      write(dir / "c.yaml", text);
      return "train --config " + (dir / "c.yaml").string() + " output.dir=" + (dir / "run").string();
    };
  };
  auto args = [](const std::string& a) { return [a](const fs::path&) { return a; }; };
  auto synthetic = [](const std::string& more) {
    return [more](const fs::path& dir) {
      return "train data.name=synthetic model.encoder=mlp output.progress=false output.dir=" + (dir / "run").string() +
             " " + more;
    };
  };

  // Configs.
  v.push_back({"EmptyConfig", config_file(""), "c.yaml"});
  v.push_back({"ListConfig", config_file("- 1\n- 2\n"), "c.yaml"});
  v.push_back({"ScalarConfig", config_file("42\n"), "c.yaml"});
  v.push_back({"InvalidYaml", config_file("train: [unclosed\n"), "c.yaml"});
  v.push_back({"UnknownKey", config_file("train:\n  epoch: 3\n"), "train.epoch"});
  v.push_back({"WrongType", config_file("train:\n  lr: fast\n"), "train.lr"});
  v.push_back({"SectionAsScalar", config_file("train: 3\n"), "train"});
  v.push_back({"ConfigWithoutMethod", config_file("data:\n  name: synthetic\n"), "train.method"});
  v.push_back({"MissingConfigFile", args("train --config /nonexistent/c.yaml"), "/nonexistent/c.yaml"});
  v.push_back({"UnknownOverrideKey", synthetic("model.depth=3"), "model.depth"});
  v.push_back({"OverrideWrongType", synthetic("train.epochs=abc"), "train.epochs"});
  v.push_back({"OverrideWithoutValue", synthetic("train.epochs"), "train.epochs"});
  v.push_back({"NegativeEpochs", synthetic("train.epochs=-1"), "train.epochs"});
  v.push_back({"ZeroLearningRate", synthetic("train.lr=0"), "train.lr"});
  v.push_back({"ZeroLrStep", synthetic("train.lr_step=0"), "train.lr_step"});
  v.push_back({"ZeroBatch", synthetic("train.batch_size=0"), "train.batch_size"});
  v.push_back({"ValFractionOne", synthetic("data.val_fraction=1.5"), "data.val_fraction"});
  v.push_back({"UnknownDataset", synthetic("data.name=imagenet"), "data.name"});
  v.push_back({"UnknownMethod", synthetic("train.method=magic"), "magic"});
  v.push_back({"UnknownEncoder", synthetic("model.encoder=vit"), "model.encoder"});
  v.push_back({"UnknownFusion", synthetic("model.fusion=early"), "model.fusion"});
  v.push_back({"EncoderExceptionWithoutKind", synthetic("model.encoders=[m0]"), "model.encoders"});
  v.push_back({"EncoderExceptionForNoModality", synthetic("model.encoders=[flow=mlp]"), "'flow'"});
  v.push_back({"MmtmOnFlatFeatures", synthetic("model.fusion=mmtm model.encoder=resnet18"), "[C, H, W]"});
  v.push_back({"TransformerHeadsDoNotDivideDim", synthetic("model.encoder=transformer model.transformer.heads=5"),
               "model.transformer"});
  v.push_back({"UnknownHead", synthetic("model.head=attention"), "attention"});
  v.push_back({"UnknownDevice", synthetic("--device gpu"), "device: 'gpu' is not a device"});
  v.push_back({"DeviceIndexNotANumber", synthetic("device=cuda:x"), "'cuda:x'"});
  v.push_back({"UnknownPrecision", synthetic("train.precision=fp8"), "train.precision"});
  v.push_back({"Fp16OnTheCpu", synthetic("--device cpu train.precision=fp16"), "fp16 needs a CUDA device"});
  v.push_back({"UnknownModality", synthetic("data.modalities=[m0,flow]"), "flow"});
  v.push_back({"NegativeWorkers", synthetic("data.workers=-1"), "data.workers"});
  v.push_back({"ZeroPrefetch", synthetic("data.prefetch=0"), "data.prefetch"});
  v.push_back({"BadSamplePolicy", synthetic("data.on_bad_sample=sometimes"), "data.on_bad_sample"});
  v.push_back({"OneClass", synthetic("data.synthetic.classes=1"), "classes"});
  v.push_back({"NoModality", synthetic("data.synthetic.modalities=0"), "data.synthetic.modalities"});
  v.push_back({"PretrainedWithoutResNet", synthetic("model.pretrained=/x/resnet18.pt"), "model.pretrained"});
  v.push_back({"PretrainedFileMissing",
               [](const fs::path& dir) {
                 return train_on("kinetics_sounds", fixture_copy("kinetics_sounds", dir), "model.pretrained=/nonexistent/r18.pt");
               },
               "/nonexistent/r18.pt"});

  // Checkpoints.
  v.push_back({"GarbageCheckpoint",
               [](const fs::path& dir) {
                 write(dir / "garbage.pt", "garbage");
                 return "eval --checkpoint " + (dir / "garbage.pt").string();
               },
               "garbage.pt"});
  v.push_back({"EmptyCheckpoint",
               [](const fs::path& dir) {
                 write(dir / "empty.pt", "");
                 return "eval --checkpoint " + (dir / "empty.pt").string();
               },
               "empty.pt"});
  v.push_back({"MissingCheckpoint", args("eval --checkpoint /nonexistent/best.pt"), "/nonexistent/best.pt"});
  v.push_back({"TruncatedCheckpoint",
               [](const fs::path& dir) {
                 auto best = trained_run(dir);
                 fs::resize_file(best, fs::file_size(best) / 2);
                 return "eval --checkpoint " + best.string();
               },
               "best.pt"});
  v.push_back({"CheckpointWithFlippedWeightByte",
               [](const fs::path& dir) {
                 auto best = trained_run(dir);
                 // Flip a byte in the middle of the file: inside a weight tensor's record.
                 std::fstream f(best, std::ios::binary | std::ios::in | std::ios::out);
                 const auto at = static_cast<std::streamoff>(fs::file_size(best) / 2);
                 f.seekg(at);
                 char c = 0;
                 f.get(c);
                 f.seekp(at);
                 f.put(static_cast<char>(c ^ 0x5A));
                 return "eval --checkpoint " + best.string();
               },
               "best.pt"});
  // Files the fuzzer forged with valid CRCs, each of which once ended the process inside LibTorch's
  // reader (a damaged class source, a duplicated record; a forged class name).
  for (const auto& [name, forged] : {std::pair<std::string, std::string>{"Unpickler", "crash-forged-unpickler-segv.pt"},
                                     {"TypeName", "crash-forged-type-name.pt"}})
    v.push_back({"ForgedCheckpoint" + name,
                 [forged = forged](const fs::path& dir) {
                   fs::copy_file(fs::path(CRMT_SOURCE_DIR) / "fuzz" / "corpus" / "checkpoint" / forged, dir / forged);
                   return "eval --checkpoint " + (dir / forged).string();
                 },
                 forged});
  v.push_back({"ResumeWithAnotherArchitecture",
               [](const fs::path& dir) {
                 trained_run(dir);
                 return "train data.name=synthetic model.encoder=mlp model.embed_dim=32 train.epochs=2 output.progress=false "
                        "--resume output.dir=" + (dir / "run").string();
               },
               "different architecture"});

  // Command-line arguments.
  v.push_back({"EvalUnknownModality",
               [](const fs::path& dir) { return "eval --checkpoint " + trained_run(dir).string() + " --modality flow"; },
               "flow"});
  v.push_back({"EvalNegativeEps",
               [](const fs::path& dir) { return "eval --checkpoint " + trained_run(dir).string() + " --attack pgd --eps -1"; },
               "eps"});
  v.push_back({"CertifyBadRadii",
               [](const fs::path& dir) { return "certify --checkpoint " + trained_run(dir).string() + " --radii 0,x"; },
               "--radii"});
  v.push_back({"CertifyNegativeRadius",
               [](const fs::path& dir) { return "certify --checkpoint " + trained_run(dir).string() + " --radii 0,-1"; },
               "--radii"});
  v.push_back({"CertifyUnknownLipschitz",
               [](const fs::path& dir) { return "certify --checkpoint " + trained_run(dir).string() + " --lipschitz exact"; },
               "exact"});
  v.push_back({"FixtureUnknownDataset", args("data make-fixture imagenet --out /tmp/crmt_never_written"), "imagenet"});
  v.push_back({"FixtureTooFewClips", args("data make-fixture cremad --out /tmp/crmt_never_written --clips 0"), "clips"});
  v.push_back({"FixtureIntoNonEmptyFolder",
               [](const fs::path& dir) {
                 write(dir / "keep.txt", "mine");
                 return "data make-fixture cremad --out " + dir.string();
               },
               "is not empty"});

  // Raw videos (`data prepare`): unusable commands stop with one error; a bad video is recorded as
  // failed with its reason, the run goes on and ends with exit status 2.
  auto ks_download = [](const std::vector<std::string>& rows) {
    return [rows](const fs::path& dir) {
      fs::create_directories(dir / "videos");
      std::string index;
      for (const auto& r : rows) index += r + " 1\n";
      write(dir / "videos" / "ks_train_overlap.txt", index);
      write(dir / "videos" / "ks_test_overlap.txt", "");
      return dir;
    };
  };
  auto prepare_ks = [ks_download](std::vector<std::string> rows, std::function<void(const fs::path& videos)> make,
                                  std::string more = "") {
    return [=](const fs::path& dir) {
      ks_download(rows)(dir);
      make(dir / "videos");
      return "data prepare kinetics_sounds --videos " + (dir / "videos").string() + " --out " + (dir / "out").string() +
             " " + more;
    };
  };
  auto ffmpeg = [](const std::string& arguments) {
    return std::system(("ffmpeg -nostdin -loglevel error -y " + arguments + " >/dev/null 2>&1").c_str());
  };
  auto nothing = [](const fs::path&) {};
  v.push_back({"PrepareUnknownDataset", args("data prepare imagenet --videos /tmp --out /tmp/crmt_never_written"),
               "imagenet"});
  v.push_back({"PrepareWithoutOut", args("data prepare kinetics_sounds --videos /tmp"), "--out"});
  v.push_back({"PrepareMissingVideosFolder", args("data prepare ucf101 --videos /nonexistent/v --out /tmp/crmt_never_written"),
               "/nonexistent/v"});
  v.push_back({"PrepareMissingIndex",
               [](const fs::path& dir) {
                 fs::create_directories(dir / "videos");
                 return "data prepare cremad --videos " + (dir / "videos").string() + " --out " + (dir / "out").string();
               },
               "train.csv not found"});
  v.push_back({"PrepareNoVideoOfTheIndex", prepare_ks({"abcdefghijk_000000_000010"}, nothing), "none of the 1 clips"});
  v.push_back({"PrepareUnknownIndexFile", prepare_ks({"abcdefghijk_000000_000010"}, nothing, "--index /tmp/labels.txt"),
               "not an index file"});
  v.push_back({"PrepareZeroWorkers", prepare_ks({"a"}, nothing, "--workers 0"), "--workers"});
  v.push_back({"PrepareNegativeFps", prepare_ks({"a"}, nothing, "--fps -1"), "--fps"});
  v.push_back({"PrepareOutIsVideos",
               [](const fs::path& dir) {
                 fs::create_directories(dir / "videos");
                 return "data prepare vggsound --videos " + (dir / "videos").string() + " --out " + (dir / "videos").string();
               },
               "must differ"});
  v.push_back({"PrepareGarbageVideo",
               prepare_ks({"garbageclip_000000_000010"},
                          [](const fs::path& v) { write(v / "garbageclip_000000_000010.mp4", std::string(5000, 'x')); }),
               "garbageclip_000000_000010.mp4", 2});
  v.push_back({"PrepareEmptyVideo",
               prepare_ks({"emptyclip01_000000_000010"},
                          [](const fs::path& v) { write(v / "emptyclip01_000000_000010.mp4", ""); }),
               "emptyclip01_000000_000010.mp4", 2});
  v.push_back({"PrepareVideoWithoutSound",
               prepare_ks({"silentclip1_000000_000010"},
                          [ffmpeg](const fs::path& v) {
                            ffmpeg("-f lavfi -i testsrc2=s=64x48:r=25:d=5 -c:v libx264 -pix_fmt yuv420p " +
                                   (v / "silentclip1_000000_000010.mp4").string());
                          }),
               "no audio stream", 2});
  v.push_back({"PrepareTruncatedVideo",
               prepare_ks({"truncated01_000000_000010"},
                          [ffmpeg](const fs::path& v) {
                            const auto path = v / "truncated01_000000_000010.mp4";
                            ffmpeg("-f lavfi -i testsrc2=s=64x48:r=25:d=5 -f lavfi -i sine=duration=5 -c:a aac -c:v "
                                   "libx264 -pix_fmt yuv420p " + path.string());
                            fs::resize_file(path, fs::file_size(path) / 2);
                          }),
               "truncated01_000000_000010.mp4", 2});
  v.push_back({"PrepareTooShortVideo",
               prepare_ks({"shortclip01_000000_000010"},
                          [ffmpeg](const fs::path& v) {
                            ffmpeg("-f lavfi -i testsrc2=s=64x48:r=25:d=0.4 -f lavfi -i sine=duration=0.4 -c:a aac -c:v "
                                   "libx264 -pix_fmt yuv420p " + (v / "shortclip01_000000_000010.mp4").string());
                          }),
               "too short", 2});

  // Dataset files: Kinetics-Sounds.
  auto ks = [](std::function<void(const fs::path& root)> damage, std::string more = "") {
    return [damage, more](const fs::path& dir) {
      auto root = fixture_copy("kinetics_sounds", dir);
      damage(root);
      return train_on("kinetics_sounds", root, more);
    };
  };
  const std::string strict = "data.on_bad_sample=error";
  v.push_back({"KsMissingIndex", ks([](const fs::path& r) { fs::remove(r / "ks_train_overlap.txt"); }),
               "ks_train_overlap.txt"});
  v.push_back({"KsEmptyIndex", ks([](const fs::path& r) { write(r / "ks_test_overlap.txt", "\n"); }), "ks_test_overlap.txt"});
  v.push_back({"KsUnknownLabel", ks([](const fs::path& r) { append(r / "ks_train_overlap.txt", "clip 99\n"); }, strict),
               "ks_train_overlap.txt:5"});
  v.push_back({"KsNonIntegerLabel", ks([](const fs::path& r) { append(r / "ks_train_overlap.txt", "clip four\n"); }, strict),
               "ks_train_overlap.txt:5"});
  v.push_back({"KsRowWithoutLabel", ks([](const fs::path& r) { append(r / "ks_train_overlap.txt", "lonely\n"); }, strict),
               "ks_train_overlap.txt:5"});
  v.push_back({"KsNameEscapingRoot", ks([](const fs::path& r) { append(r / "ks_train_overlap.txt", "../../etc/x 1\n"); }, strict),
               "climbs out"});
  v.push_back({"KsAbsoluteName", ks([](const fs::path& r) { append(r / "ks_train_overlap.txt", "/etc/passwd 1\n"); }, strict),
               "absolute"});
  v.push_back({"KsMissingFrameFolder",
               ks([](const fs::path& r) { fs::remove_all(r / "train-frames-1fps/train" / first_word(r / "ks_train_overlap.txt")); },
                  strict),
               "frame folder missing"});
  v.push_back({"KsTooFewFrames",
               ks([](const fs::path& r) {
                    auto d = r / "train-frames-1fps/train" / first_word(r / "ks_train_overlap.txt");
                    for (int k = 3; k <= 10; ++k) fs::remove(d / fmt::format("frame_{:05d}.jpg", k));
                  },
                  strict),
               "2 frames"});
  v.push_back({"KsMissingSpectrogram",
               ks([](const fs::path& r) { fs::remove(r / "train_spec" / (first_word(r / "ks_train_overlap.txt") + ".npy")); },
                  strict),
               ".npy"});
  v.push_back({"KsSpectrogramWrongShape", ks([](const fs::path& r) {
                 write_npy((r / "test_spec" / (first_word(r / "ks_test_overlap.txt") + ".npy")).string(), torch::zeros({512, 128}));
               }),
               "[1024, 128]"});
  v.push_back({"KsSpectrogramWrongDtype", ks([](const fs::path& r) {
                 write_npy((r / "test_spec" / (first_word(r / "ks_test_overlap.txt") + ".npy")).string(),
                           torch::zeros({1024, 128}, torch::kHalf));
               }),
               "float32"});
  v.push_back({"KsSpectrogramNotNpy",
               ks([](const fs::path& r) { write(r / "test_spec" / (first_word(r / "ks_test_overlap.txt") + ".npy"), "hello"); }),
               ".npy"});
  v.push_back({"KsCorruptJpeg", ks([](const fs::path& r) {
                 auto d = r / "val-frames-1fps/test" / first_word(r / "ks_test_overlap.txt");
                 for (const auto& e : fs::directory_iterator(d)) write(e.path(), "\xFF\xD8\xFFnot really");
               }),
               ".jpg"});
  v.push_back({"KsTruncatedJpeg", ks([](const fs::path& r) {
                 auto d = r / "val-frames-1fps/test" / first_word(r / "ks_test_overlap.txt");
                 for (const auto& e : fs::directory_iterator(d)) fs::resize_file(e.path(), fs::file_size(e.path()) / 3);
               }),
               ".jpg"});
  v.push_back({"KsEmptyJpeg", ks([](const fs::path& r) {
                 auto d = r / "val-frames-1fps/test" / first_word(r / "ks_test_overlap.txt");
                 for (const auto& e : fs::directory_iterator(d)) write(e.path(), "");
               }),
               ".jpg"});
  v.push_back({"KsSkipsBadTrainingRows", ks([](const fs::path& r) { append(r / "ks_train_overlap.txt", "clip 99\n../x 1\n"); }),
               ""});
  v.push_back({"KsFixtureAccepted", ks([](const fs::path&) {}), ""});

  // VGGSound.
  auto vgg = [](std::function<void(const fs::path& root)> damage, std::string more = "") {
    return [damage, more](const fs::path& dir) {
      auto root = fixture_copy("vggsound", dir);
      damage(root);
      return train_on("vggsound", root, more);
    };
  };
  v.push_back({"VggMalformedRow", vgg([](const fs::path& r) { append(r / "vggsound.csv", "only,three,fields\n"); }, strict),
               "vggsound.csv:"});
  v.push_back({"VggUnknownSplit", vgg([](const fs::path& r) { append(r / "vggsound.csv", "abc,1,dog,validation\n"); }, strict),
               "vggsound.csv:"});
  v.push_back({"VggTestClassWithoutTraining", vgg([](const fs::path& r) { append(r / "vggsound.csv", "abc,1,\"a, b\",test\n"); }),
               "a, b"});
  v.push_back({"VggMissingCsv", vgg([](const fs::path& r) { fs::remove(r / "vggsound.csv"); }), "vggsound.csv"});
  v.push_back({"VggWavWrongRate", vgg([](const fs::path& r) {
                 for (const auto& e : fs::directory_iterator(r / "test-audios/test-set"))
                   write_wav(e.path().string(), std::vector<float>(44100, 0.1f), 44100);
               }),
               "16000 Hz"});
  v.push_back({"VggWavGarbage", vgg([](const fs::path& r) {
                 for (const auto& e : fs::directory_iterator(r / "test-audios/test-set")) write(e.path(), "RIFF....nonsense");
               }),
               ".wav"});
  v.push_back({"VggFixtureAccepted", vgg([](const fs::path&) {}), ""});

  // UCF101.
  auto ucf = [](std::function<void(const fs::path& root)> damage, std::string more = "") {
    return [damage, more](const fs::path& dir) {
      auto root = fixture_copy("ucf101", dir);
      damage(root);
      return train_on("ucf101", root, more);
    };
  };
  v.push_back({"UcfMissingClassInd", ucf([](const fs::path& r) { fs::remove(r / "ucfTrainTestlist/classInd.txt"); }),
               "classInd.txt"});
  v.push_back({"UcfUnknownClass",
               ucf([](const fs::path& r) { append(r / "ucfTrainTestlist/trainlist01.txt", "Juggling/v_Juggling_g09_c01.avi 7\n"); },
                   strict),
               "Juggling"});
  v.push_back({"UcfRowWithoutClass",
               ucf([](const fs::path& r) { append(r / "ucfTrainTestlist/trainlist01.txt", "v_NoClass.avi\n"); }, strict),
               "trainlist01.txt:"});
  v.push_back({"UcfMissingFlow", ucf([](const fs::path& r) {
                 for (const auto& e : fs::directory_iterator(r / "flow/v")) fs::remove_all(e.path());
               },
                                     strict),
               "flow folder missing"});
  v.push_back({"UcfBadSplit", ucf([](const fs::path&) {}, "data.ucf101.split=4"), "data.ucf101.split"});
  v.push_back({"UcfFixtureAccepted", ucf([](const fs::path&) {}), ""});

  // CREMA-D.
  auto cremad = [](std::function<void(const fs::path& root)> damage, std::string more = "") {
    return [damage, more](const fs::path& dir) {
      auto root = fixture_copy("cremad", dir);
      damage(root);
      return train_on("cremad", root, more);
    };
  };
  v.push_back({"CremadUnknownEmotion", cremad([](const fs::path& r) { append(r / "test.csv", "1001_DFA_XYZ_XX,XYZ\r\n"); }),
               "XYZ"});
  v.push_back({"CremadMissingCsv", cremad([](const fs::path& r) { fs::remove(r / "test.csv"); }), "test.csv"});
  v.push_back({"CremadMissingWav",
               cremad([](const fs::path& r) { fs::remove_all(r / "AudioWAV"); }, strict), "audio file missing"});
  v.push_back({"CremadFixtureAccepted", cremad([](const fs::path&) {}), ""});
  return v;
}

class BadInputMatrix : public ::testing::TestWithParam<BadInputCase> {};

TEST_P(BadInputMatrix, EndsInOneClearErrorOrIsAccepted) {
  const auto& c = GetParam();
  const auto dir = test::temp_dir("matrix_" + c.name);
  const auto args = c.setup(dir);
  const auto r = test::run_cli(args);
  if (c.must_mention.empty()) {
    EXPECT_EQ(r.exit_code, 0) << args << "\n" << r.output;
    return;
  }
  if (c.status == 2) {  // a clip failed and was recorded; no error line
    EXPECT_EQ(r.exit_code, 2) << args << "\n" << r.output;
    EXPECT_EQ(r.output.find("crmt: error: "), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("1 failed"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find(c.must_mention), std::string::npos) << "the output names '" << c.must_mention << "'\n" << r.output;
    return;
  }
  EXPECT_EQ(r.exit_code, 1) << args << "\n" << r.output;
  // Exactly one error line, and it names what is wrong.
  const std::string marker = "crmt: error: ";
  const auto at = r.output.find(marker);
  ASSERT_NE(at, std::string::npos) << args << "\n" << r.output;
  EXPECT_EQ(r.output.find(marker, at + 1), std::string::npos) << "one error line\n" << r.output;
  const auto line = r.output.substr(at, r.output.find('\n', at) - at);
  EXPECT_NE(line.find(c.must_mention), std::string::npos) << "the error names '" << c.must_mention << "': " << line;
}

INSTANTIATE_TEST_SUITE_P(Cases, BadInputMatrix, ::testing::ValuesIn(cases()),
                         [](const auto& info) { return info.param.name; });

TEST(BadInputMatrixSize, HasAtLeastSixtyCases) { EXPECT_GE(cases().size(), 60u); }

}  // namespace
}  // namespace crmt
