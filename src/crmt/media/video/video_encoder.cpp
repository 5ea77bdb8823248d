#include "crmt/media/video/video_encoder.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <utility>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/audio_fifo.h>
#include <libavutil/channel_layout.h>
#include <libavutil/cpu.h>
#include <libavutil/opt.h>
#include <libswresample/swresample.h>
#include <libswscale/swscale.h>
}

#include "crmt/core/error.h"
#include "crmt/media/video/av_handles.h"

namespace crmt {
namespace {

using av::CodecPtr;
using av::FramePtr;

// Removes the temporary file unless it was renamed into place.
struct TemporaryFile {
  std::string path;
  bool renamed = false;
  ~TemporaryFile() {
    std::error_code ec;
    if (!renamed) std::filesystem::remove(path, ec);
  }
};

// libx264's `asm` setting: every instruction set libav finds on this CPU except AVX-512, in x264's
// names (each name implies the sets below it). x264 0.164's AVX-512 routines read memory it never
// wrote: with them the same frames encoded to other bytes whenever the heap held other leftovers.
std::string x264_instruction_sets() {
#if defined(__x86_64__) || defined(__i386__)
  static const std::pair<int, const char*> sets[] = {
      {AV_CPU_FLAG_MMXEXT, "MMX2"}, {AV_CPU_FLAG_SSE, "SSE"},     {AV_CPU_FLAG_SSE2, "SSE2"},
      {AV_CPU_FLAG_SSE3, "SSE3"},   {AV_CPU_FLAG_SSSE3, "SSSE3"}, {AV_CPU_FLAG_SSE4, "SSE4.1"},
      {AV_CPU_FLAG_SSE42, "SSE4.2"}, {AV_CPU_FLAG_AVX, "AVX"},    {AV_CPU_FLAG_XOP, "XOP"},
      {AV_CPU_FLAG_FMA4, "FMA4"},   {AV_CPU_FLAG_FMA3, "FMA3"},   {AV_CPU_FLAG_BMI1, "BMI1"},
      {AV_CPU_FLAG_BMI2, "BMI2"},   {AV_CPU_FLAG_AVX2, "AVX2"}};
  const int cpu = av_get_cpu_flags();
  std::string names;
  for (const auto& [flag, name] : sets)
    if (cpu & flag) names += (names.empty() ? "" : ",") + std::string(name);
  if ((cpu & AV_CPU_FLAG_SSE2) && !(cpu & AV_CPU_FLAG_SSE2SLOW)) names += ",SSE2Fast";
  return names.empty() ? "0" : names;  // "0": x264's C code only
#else
  return "auto";  // no AVX-512 elsewhere
#endif
}

// One file being written: the muxer, and an encoder per stream.
class Writer {
 public:
  Writer(const std::string& path, const std::string& tmp, const VideoEncodeOptions& o) : path_(path), o_(o) {
    // The container from the final name: the temporary one has no meaningful extension.
    const AVOutputFormat* format = av_guess_format(nullptr, path.c_str(), nullptr);
    if (!format) fail("{}: no container is known for this file extension", path);
    AVFormatContext* f = nullptr;
    check(avformat_alloc_output_context2(&f, format, nullptr, tmp.c_str()), "cannot set up the container");
    out_.reset(f);
    // No library version strings or dates in the file: the same input gives the same bytes.
    out_->flags |= AVFMT_FLAG_BITEXACT;
  }

  void open_video(int width, int height) {
    const AVCodec* codec = avcodec_find_encoder_by_name(o_.video_codec.c_str());
    if (!codec) fail("{}: FFmpeg has no video encoder '{}'", path_, o_.video_codec);
    video_.reset(avcodec_alloc_context3(codec));
    if (!video_) fail("{}: out of memory", path_);
    AVCodecContext* c = video_.get();
    c->width = width;
    c->height = height;
    c->pix_fmt = AV_PIX_FMT_YUV420P;  // what every player and the datasets' files use
    c->time_base = AVRational{1, o_.fps};
    c->framerate = AVRational{o_.fps, 1};
    c->thread_count = o_.threads;
    // BT.601 limited range: what swscale converts RGB to by default, said explicitly so that decoders
    // convert back with the same matrix.
    c->colorspace = AVCOL_SPC_SMPTE170M;
    c->color_range = AVCOL_RANGE_MPEG;
    c->flags |= AV_CODEC_FLAG_BITEXACT;
    if (!o_.codec_tag.empty()) {
      if (o_.codec_tag.size() != 4) fail("{}: codec tag '{}' is not a fourcc", path_, o_.codec_tag);
      const auto& t = o_.codec_tag;
      c->codec_tag = MKTAG(t[0], t[1], t[2], t[3]);
    }
    if (o_.video_codec == "libx264") {
      check(av_opt_set(c->priv_data, "preset", o_.preset.c_str(), 0), "libx264 preset '" + o_.preset + "'");
      check(av_opt_set_double(c->priv_data, "crf", o_.crf, 0), "libx264 crf");
      check(av_opt_set(c->priv_data, "x264-params", ("asm=" + x264_instruction_sets()).c_str(), 0),
            "libx264 instruction sets");
    } else {
      // A fixed quantiser (as ffmpeg -q:v): the frames carry it in AVFrame::quality too.
      c->flags |= AV_CODEC_FLAG_QSCALE;
      c->global_quality = FF_QP2LAMBDA * o_.qscale;
    }
    video_stream_ = open_stream(c, codec);
    video_stream_->avg_frame_rate = c->framerate;

    yuv_ = new_video_frame(c->pix_fmt, width, height);
    rgb_ = new_video_frame(AV_PIX_FMT_RGB24, width, height);
    std::fill_n(rgb_->buf[0]->data, rgb_->buf[0]->size, 0);  // the padding too: the same bytes every run
    sws_.reset(sws_getContext(width, height, AV_PIX_FMT_RGB24, width, height, c->pix_fmt, SWS_BICUBIC, nullptr,
                              nullptr, nullptr));
    if (!sws_) fail("{}: cannot convert {}x{} RGB to YUV", path_, width, height);
  }

  // Resamples the whole mono track into a FIFO in the encoder's format, rate and channels.
  void open_audio(const std::vector<float>& samples, int in_rate) {
    const AVCodec* codec = avcodec_find_encoder_by_name(o_.audio_codec.c_str());
    if (!codec) fail("{}: FFmpeg has no audio encoder '{}'", path_, o_.audio_codec);
    audio_.reset(avcodec_alloc_context3(codec));
    if (!audio_) fail("{}: out of memory", path_);
    AVCodecContext* c = audio_.get();
    c->sample_fmt = codec->sample_fmts ? codec->sample_fmts[0] : AV_SAMPLE_FMT_FLTP;
    c->sample_rate = o_.audio_rate;
    av_channel_layout_default(&c->ch_layout, o_.audio_channels);
    c->bit_rate = o_.audio_bitrate;
    c->time_base = AVRational{1, o_.audio_rate};
    c->thread_count = o_.threads;
    c->flags |= AV_CODEC_FLAG_BITEXACT;
    audio_stream_ = open_stream(c, codec);

    AVChannelLayout mono = AV_CHANNEL_LAYOUT_MONO;
    SwrContext* s = nullptr;
    check(swr_alloc_set_opts2(&s, &c->ch_layout, c->sample_fmt, c->sample_rate, &mono, AV_SAMPLE_FMT_FLT, in_rate,
                              0, nullptr),
          "cannot set up the resampler");
    av::SwrPtr swr(s);
    // The same signal at full level in every channel (swresample would put mono at -3 dB into each
    // of two), so that a decoder averaging the channels gets back what went in.
    const std::vector<double> copy(c->ch_layout.nb_channels, 1.0);
    check(swr_set_matrix(swr.get(), copy.data(), 1), "cannot set up the resampler");
    check(swr_init(swr.get()), "cannot set up the resampler");
    fifo_.reset(av_audio_fifo_alloc(c->sample_fmt, c->ch_layout.nb_channels, 1));
    if (!fifo_) fail("{}: out of memory", path_);
    const int n = static_cast<int>(samples.size());
    const int room = swr_get_out_samples(swr.get(), n);
    check(room, "cannot resample the audio");
    FramePtr buf = new_audio_frame(std::max(room, 1));
    const uint8_t* in[] = {reinterpret_cast<const uint8_t*>(samples.data())};
    int got = swr_convert(swr.get(), buf->data, room, in, n);
    check(got, "cannot resample the audio");
    check(av_audio_fifo_write(fifo_.get(), reinterpret_cast<void**>(buf->data), got), "out of memory");
    got = swr_convert(swr.get(), buf->data, room, nullptr, 0);  // what the filter still holds
    check(got, "cannot resample the audio");
    check(av_audio_fifo_write(fifo_.get(), reinterpret_cast<void**>(buf->data), got), "out of memory");
  }

  void begin() {
    check(avio_open(&out_->pb, out_->url, AVIO_FLAG_WRITE), "cannot open for writing");
    check(avformat_write_header(out_.get(), nullptr), "cannot write the container header");
  }

  void add_frame(const Image& image, int64_t index) {
    if (image.width != video_->width || image.height != video_->height || image.channels != 3)
      fail("{}: frame {} is {}x{}x{}, expected {}x{}x3 like frame 0", path_, index, image.width, image.height,
           image.channels, video_->width, video_->height);
    // swscale's SIMD code reads past the end of a row: it converts from a padded copy, never from the
    // Image itself (whose last row ends its allocation; the bytes after it made the output vary).
    for (int y = 0; y < image.height; ++y)
      std::copy_n(image.row(y), 3 * image.width, rgb_->data[0] + static_cast<ptrdiff_t>(y) * rgb_->linesize[0]);
    check(av_frame_make_writable(yuv_.get()), "cannot write a frame");  // the encoder may still hold it
    sws_scale(sws_.get(), rgb_->data, rgb_->linesize, 0, image.height, yuv_->data, yuv_->linesize);
    yuv_->pts = index;
    yuv_->quality = video_->global_quality;
    encode(video_.get(), video_stream_, yuv_.get());
    // Keep the audio up with the video, so that the muxer need not buffer one stream.
    if (audio_) add_audio_until(av_rescale_q(index + 1, video_->time_base, audio_->time_base));
  }

  void finish() {
    encode(video_.get(), video_stream_, nullptr);
    if (audio_) {
      add_audio_until(INT64_MAX);
      encode(audio_.get(), audio_stream_, nullptr);
    }
    check(av_write_trailer(out_.get()), "cannot finish the container");
    check(avio_closep(&out_->pb), "cannot close");
  }

 private:
  AVStream* open_stream(AVCodecContext* c, const AVCodec* codec) {
    if (out_->oformat->flags & AVFMT_GLOBALHEADER) c->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    check(avcodec_open2(c, codec, nullptr), std::string("cannot open the ") + codec->name + " encoder");
    AVStream* st = avformat_new_stream(out_.get(), nullptr);
    if (!st) fail("{}: out of memory", path_);
    check(avcodec_parameters_from_context(st->codecpar, c), "cannot describe the stream");
    st->time_base = c->time_base;  // a wish: the muxer may pick another when writing the header
    return st;
  }

  FramePtr new_video_frame(AVPixelFormat format, int width, int height) {
    FramePtr f(av_frame_alloc());
    if (!f) fail("{}: out of memory", path_);
    f->format = format;
    f->width = width;
    f->height = height;
    check(av_frame_get_buffer(f.get(), 0), "cannot allocate a frame");  // with the padding SIMD code needs
    return f;
  }

  FramePtr new_audio_frame(int samples) {
    FramePtr f(av_frame_alloc());
    if (!f) fail("{}: out of memory", path_);
    f->format = audio_->sample_fmt;
    f->sample_rate = audio_->sample_rate;
    check(av_channel_layout_copy(&f->ch_layout, &audio_->ch_layout), "out of memory");
    f->nb_samples = samples;
    check(av_frame_get_buffer(f.get(), 0), "cannot allocate audio");
    return f;
  }

  // Encodes whole encoder frames from the FIFO while they start before `pts` (in samples); the
  // last one may be short, or is padded with silence when the encoder wants full frames.
  void add_audio_until(int64_t pts) {
    AVCodecContext* c = audio_.get();
    const int size = c->frame_size > 0 ? c->frame_size : 1024;
    const bool short_ok = c->codec->capabilities & (AV_CODEC_CAP_SMALL_LAST_FRAME | AV_CODEC_CAP_VARIABLE_FRAME_SIZE);
    while (audio_pts_ < pts && av_audio_fifo_size(fifo_.get()) > 0) {
      const int n = std::min(size, av_audio_fifo_size(fifo_.get()));
      FramePtr f = new_audio_frame(short_ok ? n : size);
      if (n < f->nb_samples)
        av_samples_set_silence(f->data, 0, f->nb_samples, f->ch_layout.nb_channels, c->sample_fmt);
      check(av_audio_fifo_read(fifo_.get(), reinterpret_cast<void**>(f->data), n), "cannot read audio");
      f->pts = audio_pts_;
      audio_pts_ += f->nb_samples;
      encode(c, audio_stream_, f.get());
    }
  }

  // Sends one frame (nullptr: the end) and writes every packet that comes out.
  void encode(AVCodecContext* c, AVStream* st, AVFrame* frame) {
    check(avcodec_send_frame(c, frame), std::string("the ") + c->codec->name + " encoder refused a frame");
    av::PacketPtr pkt(av_packet_alloc());
    if (!pkt) fail("{}: out of memory", path_);
    for (;;) {
      int err = avcodec_receive_packet(c, pkt.get());
      if (err == AVERROR(EAGAIN) || err == AVERROR_EOF) return;
      check(err, std::string("the ") + c->codec->name + " encoder failed");
      av_packet_rescale_ts(pkt.get(), c->time_base, st->time_base);
      pkt->stream_index = st->index;
      check(av_interleaved_write_frame(out_.get(), pkt.get()), "cannot write a packet");
    }
  }

  void check(int err, const std::string& what) const {
    if (err < 0) fail("{}: {}: {}", path_, what, av::error_text(err));
  }

  std::string path_;
  VideoEncodeOptions o_;
  av::FormatPtr out_;
  CodecPtr video_, audio_;
  AVStream *video_stream_ = nullptr, *audio_stream_ = nullptr;
  FramePtr yuv_, rgb_;
  av::SwsPtr sws_;
  av::FifoPtr fifo_;
  int64_t audio_pts_ = 0;
};

}  // namespace

void write_video(const std::string& path, int64_t frame_count, const VideoFrameSource& frame,
                 const std::vector<float>& audio, int audio_in_rate, const VideoEncodeOptions& options) {
  if (frame_count < 1) fail("{}: a video needs a frame at least, got {}", path, frame_count);
  if (options.fps < 1) fail("{}: fps must be positive, got {}", path, options.fps);
  if (options.audio_codec.empty() && !audio.empty())
    fail("{}: {} audio samples but no audio codec to encode them with", path, audio.size());
  if (!options.audio_codec.empty() && audio.empty()) fail("{}: audio codec '{}' but no audio samples", path, options.audio_codec);
  if (!audio.empty() && (audio_in_rate < 1 || options.audio_rate < 1 || options.audio_channels < 1))
    fail("{}: bad audio rates or channels ({} Hz in, {} Hz x {} out)", path, audio_in_rate, options.audio_rate,
         options.audio_channels);
  // libav's informational lines (x264's statistics) would fill the console of every fixture run.
  if (av_log_get_level() > AV_LOG_ERROR) av_log_set_level(AV_LOG_ERROR);

  TemporaryFile tmp{path + ".tmp-" + std::to_string(::getpid())};
  {
    Writer w(path, tmp.path, options);
    Image first = frame(0);
    if (first.channels != 3 || first.width < 2 || first.height < 2 || first.width % 2 || first.height % 2)
      fail("{}: frames must be RGB of even width and height, got {}x{}x{}", path, first.width, first.height,
           first.channels);
    w.open_video(first.width, first.height);
    if (!audio.empty()) w.open_audio(audio, audio_in_rate);
    w.begin();
    w.add_frame(first, 0);
    for (int64_t i = 1; i < frame_count; ++i) w.add_frame(frame(i), i);
    w.finish();
  }
  std::error_code ec;
  std::filesystem::rename(tmp.path, path, ec);
  if (ec) fail("{}: cannot rename {} into place: {}", path, tmp.path, ec.message());
  tmp.renamed = true;
}

void write_video(const std::string& path, const std::vector<Image>& frames, const std::vector<float>& audio,
                 int audio_in_rate, const VideoEncodeOptions& options) {
  write_video(
      path, static_cast<int64_t>(frames.size()), [&](int64_t i) { return frames.at(static_cast<size_t>(i)); }, audio,
      audio_in_rate, options);
}

}  // namespace crmt
