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
    ("attention", "注意力机制", "Weighting other positions by softmax-normalised similarity scores."),
    ("transformer", "Transformer 模型", "The attention-based architecture behind today's language models."),
    ("inference", "推理", "Using a trained model to make predictions; what serving costs are paid for."),
    ("fine-tuning", "微调", "Continuing to train a pretrained model on a smaller, specific dataset."),
    ("accuracy", "准确率", "The share of predictions that are correct."),
    ("precision", "精确率", "Of the cases predicted positive, the share that really are positive."),
    ("recall", "召回率", "Of the real positives, the share the model finds."),
    ("FLOP", "浮点运算", "One floating-point operation; training compute is counted in FLOPs."),
]


def glossary_table():
    """The glossary as a DataFrame with columns English, 中文, meaning."""
    import pandas as pd

    return pd.DataFrame(GLOSSARY, columns=["English", "中文", "meaning"])


exercise("00_start_here.overfitting", "overfitting",
         hint="Look up 过拟合 in the glossary table above.")
exercise("00_start_here.dense_params", 128 * 10 + 10,
         hint="A Dense layer has inputs × units weights plus one bias per unit.", rtol=0)
