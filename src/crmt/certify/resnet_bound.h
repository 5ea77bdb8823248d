#pragma once
#include "crmt/core/modality.h"
#include "crmt/models/resnet.h"

namespace crmt {

// A guaranteed l2 Lipschitz constant of a ResNet encoder (eval mode) on inputs of `spec`'s shape
// ([C, H, W] or a clip [T, C, H, W]): the stem's conv with its batch norm folded in (power
// iteration, capped by the FFT bound, as the layer table's Conv2d entry), ReLU 1, the 3x3/2 max
// pool sqrt(4) = 2, each residual block L(conv1 bn1) * L(conv2 bn2) + L(shortcut) (1 for the
// identity, else its 1x1 conv with batch norm), and the mean over the clip's T frames and the
// H' x W' final positions 1 / sqrt(T H' W'). Finite and sound, and loose: the product of
// per-layer norms over 8 or 16 blocks is far above what gradients show.
double resnet_lipschitz_bound(ResNetImpl& net, const ModalitySpec& spec);

}  // namespace crmt
