#pragma once
// Owners of FFmpeg's objects, each freed by its own function, and FFmpeg's error text; shared by
// the decoder and the encoder. Internal to src/crmt/media/video.
extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/audio_fifo.h>
#include <libswresample/swresample.h>
#include <libswscale/swscale.h>
}

#include <memory>
#include <string>

namespace crmt::av {

struct CloseInput {  // also closes an output context's file (a failure after avio_open must not leak it)
  void operator()(AVFormatContext* c) const { avformat_close_input(&c); }
};
struct FreeCodec {
  void operator()(AVCodecContext* c) const { avcodec_free_context(&c); }
};
struct FreeFrame {
  void operator()(AVFrame* f) const { av_frame_free(&f); }
};
struct FreePacket {
  void operator()(AVPacket* p) const { av_packet_free(&p); }
};
struct FreeSws {
  void operator()(SwsContext* s) const { sws_freeContext(s); }
};
struct FreeSwr {
  void operator()(SwrContext* s) const { swr_free(&s); }
};
struct FreeFifo {
  void operator()(AVAudioFifo* f) const { av_audio_fifo_free(f); }
};

using FormatPtr = std::unique_ptr<AVFormatContext, CloseInput>;
using CodecPtr = std::unique_ptr<AVCodecContext, FreeCodec>;
using FramePtr = std::unique_ptr<AVFrame, FreeFrame>;
using PacketPtr = std::unique_ptr<AVPacket, FreePacket>;
using SwsPtr = std::unique_ptr<SwsContext, FreeSws>;
using SwrPtr = std::unique_ptr<SwrContext, FreeSwr>;
using FifoPtr = std::unique_ptr<AVAudioFifo, FreeFifo>;

inline std::string error_text(int code) {
  char text[AV_ERROR_MAX_STRING_SIZE] = {0};
  av_strerror(code, text, sizeof text);
  return text;
}

}  // namespace crmt::av
