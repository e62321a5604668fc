"""The English–中文 glossary of core terms, and chapter 00's warm-up exercises."""
from __future__ import annotations

from .exercises import exercise

# (English, 中文, one-line meaning)
GLOSSARY = [
    ("model", "模型", "A function with adjustable numbers (parameters) that maps inputs to outputs."),
    ("parameter", "参数", "One adjustable number inside a model; big models have billions."),
    ("weight", "权重", "A parameter that multiplies an input; most parameters are weights."),
    ("bias", "偏置", "A parameter added after the weighted sum, shifting the output."),
    ("hyperparameter", "超参数", "A setting chosen before training: learning rate, layer sizes, epochs."),
    ("big model / large model", "大模型", "A model with very many parameters, trained on very much data."),
    ("deep learning", "深度学习", "Learning with neural networks of many stacked layers."),
    ("neural network", "神经网络", "Layers of weighted sums followed by non-linear activations."),
    ("neuron", "神经元", "One weighted sum plus activation inside a layer."),
    ("layer", "层", "A group of neurons applied together; models are stacks of layers."),
    ("activation function", "激活函数", "The non-linearity after a weighted sum: ReLU, sigmoid, tanh, GELU."),
    ("training data", "训练数据", "The examples a model learns its parameters from."),
    ("validation set", "验证集", "Held-out data used to tune choices and stop training."),
    ("test set", "测试集", "Data touched once, at the end, to estimate real-world performance."),
    ("feature", "特征", "One input variable, e.g. a house's area or a pixel's brightness."),
    ("label", "标签", "The correct answer attached to a training example."),
    ("loss function", "损失函数", "A number measuring how wrong the model's predictions are."),
    ("mean squared error", "均方误差", "The average of squared differences; the usual regression loss."),
    ("cross-entropy", "交叉熵", "The classification loss: minus the log-probability of the right class."),
    ("softmax", "软最大值 / softmax 函数", "Turns a vector of scores into probabilities that sum to 1."),
    ("gradient", "梯度", "The vector of partial derivatives: which way the loss rises fastest."),
    ("derivative", "导数", "The rate of change of a function at a point."),
    ("chain rule", "链式法则", "The derivative of a composition is the product of the derivatives."),
    ("gradient descent", "梯度下降", "Repeatedly step the parameters against the gradient to lower the loss."),
    ("learning rate", "学习率", "The size of each gradient-descent step."),
    ("backpropagation", "反向传播", "The chain rule applied layer by layer to get every gradient efficiently."),
    ("optimizer", "优化器", "The update rule for parameters: SGD, momentum, Adam."),
    ("epoch", "轮次 / 训练周期", "One pass over the whole training set."),
    ("batch size", "批大小", "How many examples are used for one gradient step."),
    ("overfitting", "过拟合", "Fitting the training data so closely that new data is predicted worse."),
    ("underfitting", "欠拟合", "A model too simple or too briefly trained to capture the pattern."),
    ("regularization", "正则化", "Techniques that discourage overfitting: weight decay, dropout, early stopping."),
    ("dropout", "随机失活 / 丢弃法", "Randomly zeroing activations during training to reduce overfitting."),
    ("convolutional neural network", "卷积神经网络", "A network that slides small learned filters over images."),
    ("embedding", "嵌入 / 词向量", "A learned vector that represents a token or item."),
    ("token", "词元 / 令牌", "The unit of text a language model reads and writes: a word piece."),
    ("tokenizer", "分词器", "Cuts text into tokens from a fixed vocabulary and maps each to an integer id."),
    ("vocabulary", "词表", "The set of tokens a tokenizer or model knows; its size is vocab_size."),
    ("byte-pair encoding (BPE)", "字节对编码", "Subword tokens built by merging the most frequent adjacent pair, again and again."),
    ("padding", "填充", "Filler ids (0) that make texts the same length; a mask keeps models from reading them."),
    ("TF-IDF", "词频-逆文档频率", "Word counts weighted by rarity across documents; with logistic regression, a strong text baseline."),
    ("cosine similarity", "余弦相似度", "a·b / (‖a‖ ‖b‖): how closely two vectors point the same way, from −1 to 1."),
    ("language model", "语言模型", "A model that gives a probability to every possible next token."),
    ("bigram model", "二元语法模型", "A language model whose next-token probability depends only on the current token."),
    ("perplexity", "困惑度", "e^(cross-entropy per token): how many equally likely tokens the model is choosing between."),
    ("temperature (sampling)", "温度", "Divides log-probabilities before sampling: < 1 sharper, > 1 flatter, → 0 greedy."),
    ("attention", "注意力机制", "Weighting other positions by softmax-normalised similarity scores."),
    ("transformer", "Transformer 模型", "The attention-based architecture behind today's language models."),
    ("query, key, value", "查询、键、值", "Each position's question (query), label (key) and content (value) in attention."),
    ("self-attention", "自注意力", "Attention in which a sequence's positions attend to each other."),
    ("causal mask", "因果掩码", "Stops position i from attending to later positions, so a model cannot read the next token."),
    ("multi-head attention", "多头注意力", "Several attentions side by side, each on its own slice of the features."),
    ("position embedding", "位置嵌入", "A learned vector per position, added to the token vector, so a transformer knows word order."),
    ("residual connection", "残差连接", "x + f(x): a layer adds its output to its input, which keeps deep stacks trainable."),
    ("layer normalization", "层归一化", "Rescales each position's vector to mean 0 and variance 1, then a learned scale and shift."),
    ("KV cache", "KV 缓存", "Keys and values of earlier tokens kept during generation, so each step processes one token."),
    ("scaling law", "缩放定律", "Loss falls as a power law in parameters, data and compute."),
    ("data parallelism", "数据并行", "Each device holds the whole model, trains on its share of a batch, and gradients are averaged."),
    ("inference", "推理", "Using a trained model to make predictions; what serving costs are paid for."),
    ("latency", "延迟", "Time from sending a request to getting the answer; reported as percentiles (p50, p95, p99)."),
    ("throughput", "吞吐量", "Predictions (or tokens) served per second; batching raises it."),
    ("quantisation", "量化", "Storing weights (and activations) in fewer bits, e.g. int8: smaller and often faster."),
    ("training/serving skew", "训练/服务偏差", "Production prepares inputs differently from training; no error, wrong answers."),
    ("data drift", "数据漂移", "Live inputs stop looking like the training data; accuracy can fall silently."),
    ("model card", "模型卡", "A short document: intended use, data, metrics with error bars, known failure modes."),
    ("A/B test", "A/B 测试", "Serving two versions to random halves of the traffic and comparing them statistically."),
    ("fine-tuning", "微调", "Continuing to train a pretrained model on a smaller, specific dataset."),
    ("pretraining", "预训练", "Training a model on lots of unlabelled data (e.g. predicting the next token) before any task."),
    ("linear probe", "线性探测", "A linear classifier trained on a frozen model's features; the model itself is unchanged."),
    ("LoRA (low-rank adaptation)", "低秩适配", "Fine-tuning that freezes a weight W and learns a low-rank change ΔW = A·B."),
    ("multi-task learning", "多任务学习", "One shared model trained on several tasks at once, minimising Σ λᵢ·Lᵢ."),
    ("catastrophic forgetting", "灾难性遗忘", "Fine-tuning on a new task overwrites what the model could do before."),
    ("accuracy", "准确率", "The share of predictions that are correct."),
    ("precision", "精确率", "Of the cases predicted positive, the share that really are positive."),
    ("recall", "召回率", "Of the real positives, the share the model finds."),
    ("FLOP", "浮点运算", "One floating-point operation; training compute is counted in FLOPs."),
]


def glossary_table():
    """The glossary as a DataFrame with columns English, 中文, meaning."""
    import pandas as pd

    return pd.DataFrame(GLOSSARY, columns=["English", "中文", "meaning"])


exercise("00_start_here.overfitting", ("overfitting", "过拟合"),
         hint="The training loss keeps falling while the validation loss rises: the model fits its training data "
              "ever more closely and new data ever worse. Which glossary term means that? (Keep epoch 4's model.)")
exercise("00_start_here.dense_params", 128 * 10 + 10,
         hint="A Dense layer has inputs × units weights plus one bias per unit.", rtol=0)
