#include "crmt/media/video/video_decoder.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
#include <libswresample/swresample.h>
#include <libswscale/swscale.h>
}

#include <algorithm>
#include <mutex>
#include <vector>

#include "crmt/media/video/av_handles.h"

namespace crmt {
namespace {

// FFmpeg reports details (which packet, which offset) through its log, not its return codes. The
// last error line of the calling thread is kept to be quoted in DecodeError; nothing is printed, so
// a corrupt clip among thousands does not flood the terminal. Decoders run single-threaded, so
// their messages arrive on the thread that decodes.
thread_local std::string last_log_line;

void log_to_thread(void* avcl, int level, const char* format, va_list args) {
  if (level > AV_LOG_ERROR) return;
  char line[512];
  int print_prefix = 1;
  av_log_format_line2(avcl, level, format, args, line, sizeof line, &print_prefix);
  std::string s(line);
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  if (!s.empty()) last_log_line = s;
}

void install_log_capture() {
  static std::once_flag once;
  std::call_once(once, [] { av_log_set_callback(log_to_thread); });
}

[[noreturn]] void decode_fail(const std::string& path, const std::string& what, int code) {
  std::string message = fmt::format("{}: {}: {}", path, what, av::error_text(code));
  if (!last_log_line.empty() && message.find(last_log_line) == std::string::npos)
    message += " (" + last_log_line + ")";
  throw DecodeError(message);
}

using av::CodecPtr;
using av::FormatPtr;
using av::FramePtr;
using av::PacketPtr;

FormatPtr open_input(const std::string& path) {
  install_log_capture();
  last_log_line.clear();
  AVFormatContext* raw = nullptr;
  int err = avformat_open_input(&raw, path.c_str(), nullptr, nullptr);
  if (err < 0) decode_fail(path, "cannot open", err);
  FormatPtr format(raw);
  err = avformat_find_stream_info(format.get(), nullptr);
  if (err < 0) decode_fail(path, "cannot read the stream information", err);
  return format;
}

// The decoder of stream `index`, single-threaded (deterministic, and the clips are the parallel unit).
CodecPtr open_decoder(const std::string& path, const AVStream* stream) {
  const AVCodec* codec = avcodec_find_decoder(stream->codecpar->codec_id);
  if (!codec)
    throw DecodeError(fmt::format("{}: unsupported codec '{}' (no decoder in this FFmpeg)", path,
                                  avcodec_get_name(stream->codecpar->codec_id)));
  CodecPtr context(avcodec_alloc_context3(codec));
  if (!context) throw DecodeError(fmt::format("{}: out of memory for the {} decoder", path, codec->name));
  int err = avcodec_parameters_to_context(context.get(), stream->codecpar);
  if (err < 0) decode_fail(path, "bad codec parameters", err);
  context->thread_count = 1;
  context->pkt_timebase = stream->time_base;
  err = avcodec_open2(context.get(), codec, nullptr);
  if (err < 0) decode_fail(path, fmt::format("cannot open the {} decoder", codec->name), err);
  return context;
}

double to_seconds(AVRational r) { return r.num > 0 && r.den > 0 ? av_q2d(r) : 0.0; }

// Reads every packet of stream `index`, sends it to `decoder` and hands each decoded frame to
// `on_frame`; then drains the decoder. Demuxer and decoder errors are DecodeErrors.
template <typename OnFrame>
void decode_stream(const std::string& path, AVFormatContext* format, int index, AVCodecContext* decoder,
                   OnFrame&& on_frame) {
  PacketPtr packet(av_packet_alloc());
  FramePtr frame(av_frame_alloc());
  if (!packet || !frame) throw DecodeError(fmt::format("{}: out of memory", path));
  auto receive_all = [&] {
    for (;;) {
      int err = avcodec_receive_frame(decoder, frame.get());
      if (err == AVERROR(EAGAIN) || err == AVERROR_EOF) return;
      if (err < 0) decode_fail(path, "decoding failed", err);
      on_frame(frame.get());
      av_frame_unref(frame.get());
    }
  };
  for (;;) {
    int err = av_read_frame(format, packet.get());
    if (err == AVERROR_EOF) break;
    if (err < 0) decode_fail(path, "cannot read the file (truncated or corrupt?)", err);
    if (packet->stream_index == index) {
      err = avcodec_send_packet(decoder, packet.get());
      if (err < 0 && err != AVERROR(EAGAIN)) {
        av_packet_unref(packet.get());
        decode_fail(path, "corrupt data", err);
      }
      receive_all();
    }
    av_packet_unref(packet.get());
  }
  avcodec_send_packet(decoder, nullptr);
  receive_all();
}

// Converts a decoded picture to RGB with the arithmetic of the Python pipeline it replaces:
// ffmpeg's JPEG keeps the video's Y'CbCr (stretched to full range) and Pillow decodes JPEG with the
// BT.601 matrix, so BT.601 is used whatever the video's own matrix.
Image frame_to_rgb(const AVFrame* frame, const std::string& path) {
  const auto format = static_cast<AVPixelFormat>(frame->format);
  // One context per thread, rebuilt only when the frame size or format changes.
  thread_local av::SwsPtr sws;
  sws.reset(sws_getCachedContext(sws.release(), frame->width, frame->height, format, frame->width, frame->height,
                                 AV_PIX_FMT_RGB24, SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT, nullptr,
                                 nullptr, nullptr));
  if (!sws)
    throw DecodeError(fmt::format("{}: cannot convert pixel format {} to RGB", path,
                                  av_get_pix_fmt_name(format) ? av_get_pix_fmt_name(format) : "?"));
  const bool full_range = frame->color_range == AVCOL_RANGE_JPEG || format == AV_PIX_FMT_YUVJ420P ||
                          format == AV_PIX_FMT_YUVJ422P || format == AV_PIX_FMT_YUVJ444P;
  const int* bt601 = sws_getCoefficients(SWS_CS_ITU601);
  sws_setColorspaceDetails(sws.get(), bt601, full_range ? 1 : 0, bt601, 1, 0, 1 << 16, 1 << 16);
  // swscale's SIMD paths may touch a few bytes past a row: convert into aligned, padded rows, then
  // copy into the exact-size image.
  const int stride = FFALIGN(3 * frame->width + 64, 64);
  thread_local std::vector<uint8_t> padded;
  padded.assign(static_cast<size_t>(stride) * (frame->height + 1), 0);
  uint8_t* dst[1] = {padded.data()};
  int dst_stride[1] = {stride};
  sws_scale(sws.get(), frame->data, frame->linesize, 0, frame->height, dst, dst_stride);
  Image out(frame->height, frame->width, 3);
  for (int y = 0; y < frame->height; ++y)
    std::copy_n(padded.data() + static_cast<size_t>(y) * stride, 3 * frame->width, out.row(y));
  return out;
}

// A frame that owns a reference to the decoded picture.
class KeptFrame : public DecodedFrame {
 public:
  KeptFrame(const AVFrame* frame, std::string path) : frame_(av_frame_clone(frame)), path_(std::move(path)) {
    if (!frame_) throw DecodeError(fmt::format("{}: out of memory", path_));
  }
  Image rgb() const override { return frame_to_rgb(frame_.get(), path_); }
  std::shared_ptr<const DecodedFrame> keep() const override { return std::make_shared<KeptFrame>(frame_.get(), path_); }

 private:
  FramePtr frame_;
  std::string path_;
};

// The frame being visited, valid during the visit only.
class FrameView : public DecodedFrame {
 public:
  FrameView(const AVFrame* frame, const std::string& path) : frame_(frame), path_(path) {}
  Image rgb() const override { return frame_to_rgb(frame_, path_); }
  std::shared_ptr<const DecodedFrame> keep() const override { return std::make_shared<KeptFrame>(frame_, path_); }

 private:
  const AVFrame* frame_;
  const std::string& path_;
};

}  // namespace

struct VideoDecoder::State {
  FormatPtr format;  // the first open: stream layout and info
  int video_index = -1, audio_index = -1;
  VideoInfo info;
};

VideoDecoder::VideoDecoder(std::string path) : path_(std::move(path)), state_(std::make_unique<State>()) {
  state_->format = open_input(path_);
  AVFormatContext* f = state_->format.get();
  state_->video_index = av_find_best_stream(f, AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
  state_->audio_index = av_find_best_stream(f, AVMEDIA_TYPE_AUDIO, -1, -1, nullptr, 0);
  state_->info.streams = static_cast<int>(f->nb_streams);
  if (state_->video_index >= 0) {
    AVStream* s = f->streams[state_->video_index];
    auto& info = state_->info;
    info.width = s->codecpar->width;
    info.height = s->codecpar->height;
    info.frame_rate = to_seconds(av_guess_frame_rate(f, s, nullptr));
    info.avg_frame_rate = to_seconds(s->avg_frame_rate);
    if (info.avg_frame_rate <= 0) info.avg_frame_rate = to_seconds(s->r_frame_rate);
    info.codec = avcodec_get_name(s->codecpar->codec_id);
    if (s->duration != AV_NOPTS_VALUE) info.duration = s->duration * to_seconds(s->time_base);
    else if (f->duration != AV_NOPTS_VALUE) info.duration = static_cast<double>(f->duration) / AV_TIME_BASE;
  }
}

VideoDecoder::~VideoDecoder() = default;

bool VideoDecoder::has_video() const { return state_->video_index >= 0; }
bool VideoDecoder::has_audio() const { return state_->audio_index >= 0; }

const VideoInfo& VideoDecoder::video_info() const {
  if (!has_video()) throw DecodeError(fmt::format("{}: no video stream", path_));
  return state_->info;
}

void VideoDecoder::decode_video(const FrameVisitor& visit) {
  video_info();
  // Every pass opens the file anew: simpler and more robust than seeking back in a damaged file.
  FormatPtr format = open_input(path_);
  AVStream* stream = format->streams[state_->video_index];
  CodecPtr decoder = open_decoder(path_, stream);
  // ffmpeg's command line shifts all timestamps by minus the file's start time.
  const int64_t offset = format->start_time == AV_NOPTS_VALUE
                             ? 0
                             : av_rescale_q(format->start_time, AV_TIME_BASE_Q, stream->time_base);
  const double tb = av_q2d(stream->time_base);
  const double rate = state_->info.frame_rate > 0 ? state_->info.frame_rate : 25.0;
  int64_t index = 0;
  double last_time = 0;
  decode_stream(path_, format.get(), state_->video_index, decoder.get(), [&](AVFrame* frame) {
    const int64_t ts = frame->best_effort_timestamp;
    const double time = ts == AV_NOPTS_VALUE ? index / rate : static_cast<double>(ts - offset) * tb;
    FrameView view(frame, path_);
    visit(index++, time, view);
    last_time = std::max(last_time, time);
  });
  if (index == 0) throw DecodeError(fmt::format("{}: no video frames (empty or zero-length clip)", path_));
  // A file cut short whose index still lists the lost samples ends early without an error code.
  const double declared = state_->info.duration;
  if (declared > 0 && last_time + 3.0 / rate < declared - 0.5) {
    std::string message = fmt::format("{}: truncated: the frames end at {:.2f} s, the container declares {:.2f} s",
                                      path_, last_time, declared);
    if (!last_log_line.empty()) message += " (" + last_log_line + ")";
    throw DecodeError(message);
  }
}

std::vector<int16_t> VideoDecoder::decode_audio(int sample_rate, int channels) {
  if (!has_audio()) throw DecodeError(fmt::format("{}: no audio stream", path_));
  if (sample_rate <= 0 || channels < 1 || channels > 2)
    throw DecodeError(fmt::format("{}: bad audio target {} Hz x {} channels", path_, sample_rate, channels));
  FormatPtr format = open_input(path_);
  AVStream* stream = format->streams[state_->audio_index];
  CodecPtr decoder = open_decoder(path_, stream);
  av::SwrPtr swr;
  AVChannelLayout out_layout{};
  av_channel_layout_default(&out_layout, channels);
  std::vector<int16_t> samples;
  auto convert = [&](const uint8_t** in, int in_count) {
    const int room = swr_get_out_samples(swr.get(), in_count);
    if (room <= 0) return;
    std::vector<int16_t> chunk(static_cast<size_t>(room) * channels);
    uint8_t* out[1] = {reinterpret_cast<uint8_t*>(chunk.data())};
    const int got = swr_convert(swr.get(), out, room, in, in_count);
    if (got < 0) decode_fail(path_, "audio resampling failed", got);
    samples.insert(samples.end(), chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(got) * channels);
  };
  decode_stream(path_, format.get(), state_->audio_index, decoder.get(), [&](AVFrame* frame) {
    if (!swr) {
      AVChannelLayout in_layout{};
      if (frame->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC || frame->ch_layout.nb_channels == 0)
        av_channel_layout_default(&in_layout, std::max(1, frame->ch_layout.nb_channels));
      else
        av_channel_layout_copy(&in_layout, &frame->ch_layout);
      SwrContext* raw = nullptr;
      int err = swr_alloc_set_opts2(&raw, &out_layout, AV_SAMPLE_FMT_S16, sample_rate, &in_layout,
                                    static_cast<AVSampleFormat>(frame->format), frame->sample_rate, 0, nullptr);
      av_channel_layout_uninit(&in_layout);
      if (err < 0) decode_fail(path_, "cannot set up audio resampling", err);
      swr.reset(raw);
      err = swr_init(swr.get());
      if (err < 0) decode_fail(path_, "cannot set up audio resampling", err);
    }
    convert(const_cast<const uint8_t**>(frame->extended_data), frame->nb_samples);
  });
  if (!swr) throw DecodeError(fmt::format("{}: the audio stream holds no samples", path_));
  convert(nullptr, 0);  // flush the resampler's delay line
  av_channel_layout_uninit(&out_layout);
  return samples;
}

std::vector<float> pcm16_to_float(const std::vector<int16_t>& samples) {
  std::vector<float> out(samples.size());
  for (size_t i = 0; i < samples.size(); ++i) out[i] = static_cast<float>(samples[i]) / 32768.0f;
  return out;
}

}  // namespace crmt
