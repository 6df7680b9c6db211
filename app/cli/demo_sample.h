// The built-in sample the demo trains on: plain English prose, written for the lab, fed as raw bytes.
#pragma once

namespace minimind::cli {

inline constexpr const char* kDemoSample = R"(The lab begins with a small model and a short text. The model reads
the text one byte at a time and learns to guess the next byte. At first every guess is as good as any other, and
the loss is the logarithm of the vocabulary. Then the model notices that a space often follows a word, that a
capital letter often follows a full stop, and that the word "the" is very common. The loss falls.

A language model is a long chain of simple steps. Each token becomes a vector. Each block mixes the vectors of
earlier tokens through attention, and then transforms every vector on its own through a small network. A norm
keeps the numbers in range, and a residual path lets every block add to what came before instead of replacing it.
At the end, the vector of the last token is compared with every word in the vocabulary, and the closest words
become the most likely next tokens.

Training repeats three moves. The forward pass computes the predictions and the loss. The backward pass computes
how the loss would change if each weight moved a little. The optimizer moves every weight a little in the
direction that lowers the loss. Thousands of such steps turn random numbers into a model that writes.

The river ran past the old mill, and the miller's children watched the water turn the wheel. In spring the river
was high and brown; in summer it was low and clear, and the children could see the stones on the bottom. The
miller said that the river never ran the same way twice, and the children believed him.

Good tools let people see what they are doing. A chart of the loss shows whether a run is learning. A map of the
attention shows which tokens a head looks at. A table of the expert load shows whether a mixture of experts uses
all of its experts or only a few. With these views, a small model becomes something to study, not only to run.
)";

}  // namespace minimind::cli
