"""Errata of the five source articles: one record per error, quoted exactly, with the correction.

Each record names the article file (in the project's ``../shared/articles``, see ``ARTICLES``), the section heading as the
article writes it, the exact quote (copied character for character), the kind of error, the correction, and
where the course teaches the correct version: ``(notebook stem, heading)`` or ``None`` ("not covered").
``tests/test_errata.py`` checks every quote against the article files and every heading against the notebooks;
appendix ``notebooks/99_errata.ipynb`` renders the table.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

KINDS = ("formula", "number", "code", "fact", "citation")

ARTICLES = {
    "000_6aac9b8b84da323c.txt": "big-model start-ups: concepts, business model, moat, talent; an MNIST MLP",
    "001_e670dd17a68b3d14.txt": "forward/backward propagation, gradient descent; house-price linear regression",
    "002_07b8c4c63752c04a.txt": "activations, losses, optimizers, initialisation; a binary MLP; metrics",
    "003_8478d3266cb8f682.txt": "pretraining, fine-tuning, attention, multi-task learning; a text classifier",
    "004_b5baea425214a0a8.txt": "optimizers, worked numeric examples; CIFAR-10 CNN, preprocessing, deployment",
}
A0, A1, A2, A3, A4 = ARTICLES

# Where the course teaches the correct version: (notebook stem, heading text without the leading #'s).
NB01, NB02, NB04, NB05, NB06 = ("01_big_models_and_their_economics", "02_math_foundations",
                                "04_house_price_regression", "05_mnist_classification", "06_evaluation_metrics")
ECON_PARAMS = (NB01, "7. Deep dive: counting parameters")
ECON_ERRATA = (NB01, "8. What the articles got wrong about models, companies and papers")
MATH_SIGMOID = (NB02, "1. Activation functions (激活函数)")
MATH_LOSSES = (NB02, "2. Loss functions (损失函数)")
MATH_QUOTIENT = (NB02, "The quotient rule (商法则)")
MATH_BCE_GRAD = (NB02, r"4.1 Sigmoid + binary cross-entropy: $\partial L/\partial z = \hat y - y$")
MATH_BACKPROP = (NB02, "4.3 Backpropagation through a two-layer network, in matrix form")
MATH_GD = (NB02, "5. Gradient descent (梯度下降) as an algorithm")
MATH_MOMENTUM = (NB02, "Momentum (动量)")
MATH_ADAM = (NB02, "Adam, and its bias correction (偏差修正)")
MATH_SCHEDULES = (NB02, "Learning-rate schedules (学习率衰减)")
MATH_INIT = (NB02, "Weight initialisation (权重初始化): why the scale matters")
MATH_MORE = (NB02, "More formula errors in the articles")
REG_TF1 = (NB04, "What the article wrote, and why we do not run it")
REG_GRADIENT = (NB04, "The gradient, derived and checked")
REG_RUN = (NB04, "Spot the bug: the articles' line fits, run")
REG_SPLIT = (NB04, "2. A fixed split, and a test set we touch once")
REG_SAVE = (NB04, "8. Save, reload, and predict one house")
METRICS_CM = (NB06, "1. The confusion matrix first")
METRICS_F1 = (NB06, "F1 is the harmonic mean of precision and recall")
# Chapters 07-09 were being written when these records were made; these are their headings at that time.
TEXT_CLASSIFIER = ("07_text_and_embeddings", "2. The article's classifier, done right")
ATTENTION_BUG = ("08_attention_and_tiny_transformer", "2. Spot the bug")
ADAPT = ("09_pretraining_and_fine_tuning", "3. Three ways to adapt it")


@dataclass(frozen=True)
class Erratum:
    """One error in one article: where it is, what it says (verbatim), what is right, where the course says so."""

    article: str
    section: str
    quote: str
    kind: str
    correction: str
    taught_in: tuple[str, str] | None = None

    @property
    def where_taught(self) -> str:
        return f"{self.taught_in[0]} › {self.taught_in[1]}" if self.taught_in else "not covered"


ERRATA: tuple[Erratum, ...] = (
    # ------------------------------------------------------------------ 000: start-ups, concepts, an MNIST MLP
    Erratum(A0, "2.1 AI大模型", "常见的AI大模型包括Transformer、BERT、GPT等", "fact",
            "The Transformer is an architecture (架构, Vaswani et al. 2017), not a model; BERT and GPT are models "
            "built from it.", ECON_ERRATA),
    Erratum(A0, "3.1 算法原理概述", "递归神经网络（RNN）", "fact",
            "RNN stands for recurrent neural network, 循环神经网络. 递归神经网络 usually names the recursive "
            "(tree-structured) neural network, a different model."),
    Erratum(A0, "4.3 案例分析与讲解", "4. 评估：使用验证集和测试集进行模型评估。", "fact",
            "The code has no validation set (fit has no validation_data or validation_split) and evaluates on "
            "the test set only. Choose on a validation split, then touch the test set once.", REG_SPLIT),
    Erratum(A0, "4.3 案例分析与讲解", "训练过程中，我们使用了随机梯度下降（SGD）优化器", "code",
            "The article's code compiles with optimizer='adam': the model is trained with Adam, not with SGD "
            "(随机梯度下降). §4.3's step 3 says SGD too.", MATH_MORE),
    Erratum(A0, "4.3 案例分析与讲解", "tf.keras.layers.Flatten(input_shape=(28, 28)),", "code",
            "In Keras 3, passing input_shape to a layer is deprecated (it warns); start the model with "
            "keras.Input(shape=(28, 28)) and use `import keras` rather than tf.keras.", ECON_PARAMS),
    Erratum(A0, "5.3 代码解读与分析", "我们构建一个简单的两层神经网络，第一层为展开层（Flatten）", "fact",
            "Flatten only reshapes a 28×28 image into 784 numbers and has no parameters. The network has two "
            "Dense layers, 784→128→10, with 100,480 + 1,290 = 101,770 parameters; the text then even lists a "
            "'third layer'.", ECON_PARAMS),
    Erratum(A0, "5.4 运行结果展示", "Test loss: 0.1309 - Test accuracy: 0.9797", "code",
            "The code prints only `print('Test accuracy:', test_acc)`, so this line is not its output. "
            "Show output that comes from the code shown, from a recorded run."),
    Erratum(A0, "8.1 学习资源推荐", "**《AI大模型：原理、架构与工程实践》**：本书详细介绍了AI大模型的理论和实践。", "citation",
            "No author, publisher or year is given, and we could not identify the book: do not treat it as a "
            "source.", ECON_ERRATA),
    Erratum(A0, "8.3 相关论文推荐", "“GPT-3: Language Models are Few-Shot Learners”", "citation",
            "The paper is titled 'Language Models are Few-Shot Learners' (Brown et al., NeurIPS 2020); 'GPT-3:' "
            "is not part of the title.", ECON_ERRATA),
    # ------------------------------------------------------------------ 001: propagation, house-price regression
    Erratum(A1, "4.2 公式推导过程", r"z = \text{input} \cdot \text{weights}", "formula",
            "The bias is missing, z = x·w + b. A sigmoid of one inner product is a single neuron (logistic "
            "regression, 逻辑回归), not a multilayer perceptron, which stacks layers with activations between "
            "them.", MATH_MORE),
    Erratum(A1, "4.2 公式推导过程", r"\frac{\partial L}{\partial \hat{y}_i} = \frac{1}{\hat{y}_i} - y_i", "formula",
            "For L = −Σ y_i log ŷ_i the derivative is ∂L/∂ŷ_i = −y_i/ŷ_i (for binary cross-entropy, "
            "−y/ŷ + (1−y)/(1−ŷ)).", MATH_BCE_GRAD),
    Erratum(A1, "4.2 公式推导过程", r"\frac{\partial L}{\partial z} = 1 - 2\hat{y}_i - y_i", "formula",
            "For a sigmoid output with binary cross-entropy, ∂L/∂z = ŷ − y (zero when the prediction is "
            "perfect). Even the article's own previous line, ŷ(1−ŷ)·(1/ŷ) − y, simplifies to 1 − ŷ − y, not "
            "1 − 2ŷ − y.", MATH_BCE_GRAD),
    Erratum(A1, "4.3 案例分析与讲解", "y_pred = np.relu(z)", "code",
            "NumPy has no relu: this line raises AttributeError. ReLU is np.maximum(0, z).", REG_TF1),
    Erratum(A1, "4.3 案例分析与讲解", "dbias = dz", "code",
            "With loss = mean((y_pred − y)²) the bias gradient is (2/n)·Σ(y_pred − y)·ReLU'(z), one number. "
            "The code keeps one value per example, omits the 1/n and the ReLU derivative (dweights too), and "
            "never defines learning_rate.", REG_GRADIENT),
    Erratum(A1, "5.2 源代码详细实现", "x = tf.placeholder(tf.float32, shape=[None, 1])", "code",
            "tf.placeholder, tf.random_uniform, tf.train.GradientDescentOptimizer and tf.Session are "
            "TensorFlow 1 APIs. TensorFlow 2, which §5.1 asks for, keeps them only under tf.compat.v1 (with "
            "eager execution disabled) for migrating old code; new code uses tf.GradientTape or Keras.", REG_TF1),
    Erratum(A1, "5.4 运行结果展示", "Predictions: [[12.], [13.], [14.]]", "number",
            "The training data is y = 2x, so a fitted line predicts about 12, 14 and 16 for x = 6, 7 and 8; the "
            "article's own training loop (1,000 steps at lr 0.01), run from w = b = 0, gives 11.99, 13.98, 15.98.",
            REG_RUN),
    Erratum(A1, "5.2 源代码详细实现", "optimizer = tf.optimizers.SGD(learning_rate=0.01)", "number",
            "With x uniform in [0, 100] and no scaling, full-batch gradient descent is stable only for "
            "lr < 1/λ_max(AᵀA/n) ≈ 3e-4 (A = [x, 1]). At lr = 0.01, about 30 times that, the loss overflows to "
            "inf within 100 steps: the 'small learning rate to avoid oscillation' (§5.3) is far too large, and "
            "the fitted line shown in §5.4 cannot come from this code. Standardise x.", REG_RUN),
    Erratum(A1, "5.1 开发环境搭建", "pip install python==3.x", "code",
            "Python is not installed with pip, and '==3.x' / '==2.x' are not valid version specifiers. The "
            "tensorflow-gpu package is discontinued: the tensorflow package has included GPU support since "
            "2.1 (on Linux, pip install 'tensorflow[and-cuda]')."),
    Erratum(A1, "7. 工具和资源推荐", "《Python深度学习》（Raschka et al.）", "citation",
            "《Python深度学习》 (Deep Learning with Python) is by François Chollet; Raschka et al. wrote "
            "Python Machine Learning (《Python机器学习》).", ECON_ERRATA),
    Erratum(A1, "7.3 相关论文", "**论文集**：《深度学习专刊》、《自然语言处理专刊》等", "citation",
            "No publisher, editor or year: these 'special issues' cannot be identified.", ECON_ERRATA),
    Erratum(A1, "问题 3：如何评估大模型性能？", "- **F1值**：综合考虑准确率和召回率，用于综合评估模型性能。", "formula",
            "F1 combines precision (精确率), not accuracy (准确率), with recall: F1 = 2PR / (P + R).",
            METRICS_F1),
    # ------------------------------------------------------------------ 002: activations, losses, optimizers
    Erratum(A2, "3.2 算法步骤详解", "召回率：正确预测的数量与实际正样本数量的比例。", "formula",
            "Recall = TP / (TP + FN): the correctly found positives over the actual positives. 'Correct "
            "predictions' also count the true negatives.", METRICS_CM),
    Erratum(A2, "3.2 算法步骤详解", "F1分数：准确率的调和平均值，综合考虑准确率和召回率。", "formula",
            "F1 is the harmonic mean (调和平均数) of precision (精确率) and recall, 2PR / (P + R). Accuracy "
            "(准确率) does not enter it; with rare positives accuracy is high while precision is low.",
            METRICS_F1),
    Erratum(A2, "3.2 算法步骤详解", "高斯分布初始化：以高斯分布生成初始参数，方法较为稳定，但需要确定合适的均值和方差。", "fact",
            "A Gaussian initialisation is a random initialisation; whether it is stable depends only on its "
            "variance: Var(w) = 2/(n_in + n_out) (Xavier) or 2/n_in (He). N(0, 1) saturates or explodes.",
            MATH_INIT),
    Erratum(A2, "3.2 算法步骤详解", "Xavier初始化是设置权重为高斯分布，其标准差由激活函数的导数的平方根倒数决定", "formula",
            "Xavier/Glorot sets Var(w) = 2/(n_in + n_out) from the layer's fan-in and fan-out (uniform or "
            "Gaussian); the activation's derivative does not enter it.", MATH_INIT),
    Erratum(A2, "4.2 公式推导过程", r"z_{l} = \sigma(W_{l}a_{l-1} + b_{l})", "formula",
            "The article then writes a_l = σ(z_l), applying the activation twice. z_l = W_l a_{l−1} + b_l is "
            "the pre-activation and a_l = σ(z_l).", MATH_BACKPROP),
    Erratum(A2, "4.2 公式推导过程", r"\frac{\partial L}{\partial \theta_{l,ij}} = a_{l-1}(1 - a_{l-1}) \delta_{l+1,j}",
            "formula",
            "The weight gradient is ∂L/∂W_{l,ij} = δ_{l,i}·a_{l−1,j} with δ_l = ∂L/∂z_l (matrix form "
            "dW = Aᵀ dZ). The activation's derivative belongs inside δ, and the layer index is l, not l+1; it "
            "also contradicts the line just above, ∂z_l/∂θ = a_{l−1}.", MATH_BACKPROP),
    Erratum(A2, "4.2 公式推导过程", r"\frac{\partial \hat{y}_l}{\partial a_l} = W_l", "formula",
            "For ŷ_l = W_l a_{l−1} + b_l the derivative with respect to the previous layer's activation is "
            "∂ŷ_l/∂a_{l−1} = W_l; the equation says nothing about a_l. Likewise ReLU's derivative is taken at "
            "the pre-activation z, not at the activation.", MATH_BACKPROP),
    Erratum(A2, "4.3 案例分析与讲解", "我们使用ReLU作为激活函数，并使用均方误差（MSE）作为损失函数。", "fact",
            "For a yes/no label, use a sigmoid output with binary cross-entropy: a ReLU output is not a "
            "probability (it is unbounded and stuck at 0 for negative scores), and MSE on a sigmoid gives "
            "vanishing gradients for confident mistakes.", MATH_LOSSES),
    Erratum(A2, "反向传播", r"\frac{\partial L}{\partial b_2} = \delta_2", "formula",
            "The bias is added to every example, so its gradient sums over the batch: db₂ = Σ_n δ₂,n. With the "
            "ReLU output used here, δ₂ = (a₂ − y) ⊙ ReLU'(z₂).", MATH_BACKPROP),
    Erratum(A2, "优化算法", "它每次迭代只更新一个样本的参数，而不是整个数据集的参数。", "fact",
            "Parameters belong to the model, not to examples. SGD updates all parameters at every step, using "
            "the gradient of one example (or a mini-batch) instead of the whole training set.", MATH_GD),
    Erratum(A2, "优化算法", r"\theta := \theta - \alpha \frac{\nabla_{\theta} L}{\sqrt{\sum_{i} \nabla_{\theta} L_i^2}}",
            "formula",
            "AdaGrad sums each parameter's own squared gradients over time steps, G_t = Σ_{τ≤t} g_τ², and "
            "updates θ ← θ − α g_t / (√G_t + ε) elementwise. The article sums over parameters (∇L_i '是第i个"
            "参数的梯度'), which gives every parameter the same rate.", MATH_MORE),
    Erratum(A2, "优化算法",
            r"\theta := \theta - \alpha \frac{\nabla_{\theta} L}{\sqrt{\rho \nabla_{\theta} L^2 + (1 - \rho) \nabla_{\theta} L^2_{\text{prev}}}}",
            "formula",
            "RMSProp keeps an exponential moving average of all past squared gradients, v_t = ρ v_{t−1} + "
            "(1 − ρ) g_t² with ρ ≈ 0.9 on the old average, and updates θ ← θ − α g_t / (√v_t + ε). The "
            "article mixes only the current and the previous gradient, with the weights the wrong way round, "
            "and has no ε.", MATH_MORE),
    Erratum(A2, "优化算法", r"\theta := \theta - \alpha \frac{m_t}{\sqrt{v_t} + \epsilon}", "formula",
            "Adam divides by the bias-corrected moments, m̂_t = m_t/(1 − β₁ᵗ) and v̂_t = v_t/(1 − β₂ᵗ), with "
            "t = 1 at the first step. Without the correction the early steps are too large: "
            "ignoring ε, the uncorrected step is (1 − β₁ᵗ)/√(1 − β₂ᵗ) times the corrected one, 0.1/√0.001 ≈ 3.16 "
            "at t = 1 (a first step of about 3.16α instead of α), rising to about 6.57 near t = 12 and still "
            "about 3.24 at t = 100.", MATH_ADAM),
    Erratum(A2, "反向传播", r"\frac{\partial L}{\partial W_1} = \sum_{i=1}^{100} (y_i - \hat{y}_i) x_{1i}", "formula",
            "Sign error. For L = ½Σ(ŷ_i − y_i)², ∂L/∂W₁ = Σ(ŷ_i − y_i)x₁ᵢ. With the article's y − ŷ, the update "
            "W₁ := W₁ − α·∂L/∂W₁ climbs the loss instead of descending it.", REG_GRADIENT),
    Erratum(A2, "5.2 源代码详细实现", "model.add(Dense(64, input_shape=(10,)))", "code",
            "The data loaded below is MNIST: 28×28 images, not 10 features, so fit fails with a shape error. "
            "Flatten the images (or start with keras.Input(shape=(28, 28)) and Flatten)."),
    Erratum(A2, "5.2 源代码详细实现", "model.add(Dense(1, activation='sigmoid'))", "code",
            "One sigmoid output with binary_crossentropy on MNIST's labels 0–9 (§5.3 calls it '二分类'): binary "
            "cross-entropy needs labels 0 or 1. Ten digits need Dense(10, activation='softmax') with "
            "sparse_categorical_crossentropy.", (NB05, "7. Spot the bug: one sigmoid output for ten digits")),
    Erratum(A2, "5.2 源代码详细实现", "accuracy = model.evaluate(x_test, y_test)", "code",
            "With metrics=['accuracy'] compiled, evaluate returns [loss, accuracy]; printing it as 'Test "
            "accuracy' prints both. Unpack it: test_loss, test_accuracy = model.evaluate(...)."),
    Erratum(A2, "7.3 相关论文推荐", "“A Theoretical Analysis of the.isNullOrEmpty Method”（Michael F. Box, J. Stuart Hunter）",
            "citation",
            "We found no such paper. IsNullOrEmpty is a .NET string method, and the description that follows "
            "talks about Python's isinstance: the reference is invented.", ECON_ERRATA),
    Erratum(A2, "7.3 相关论文推荐", "“On the Use of Classifiers with Numeric Class Labels”（John H. Lederberg）", "citation",
            "We found no such paper or author; treat the reference as invented.", ECON_ERRATA),
    Erratum(A2, "7.3 相关论文推荐", "“Large-Scale Online Learning in Sublinear Time”（Yaron Singer，Stefano Ermon）",
            "citation", "We found no paper with this title by these authors; treat the reference as invented.",
            ECON_ERRATA),
    Erratum(A2, "9.12 AI大模型创业中的失败案例有哪些？", "**WAVES**：加密货币平台，因技术问题导致大规模黑客攻击，公司破产。",
            "fact",
            "Waves is a blockchain platform launched in 2016, not an AI big-model start-up; the article gives no "
            "source for a hack-driven bankruptcy, and we found none.", ECON_ERRATA),
    Erratum(A2, "9.12 AI大模型创业中的失败案例有哪些？",
            "**UnifyID**：基于生物识别技术的身份验证公司，因技术问题导致产品性能不佳，市场份额萎缩。", "fact",
            "UnifyID (behavioural-biometrics authentication) was acquired by Prove Identity in 2021; it was not "
            "an AI big-model company, and the article gives no source for the claimed failure.", ECON_ERRATA),
    # ------------------------------------------------------------------ 003: pretraining, attention, text model
    Erratum(A3, "AI大模型的概念与发展",
            "LLaMA（Language Model for Leveraging Automata and Machine Learning）是另一个备受瞩目的AI大模型，它由Meta AI"
            "（前Facebook AI Research）于2022年推出，通过多任务预训练", "fact",
            "LLaMA stands for Large Language Model Meta AI. It was released in February 2023 (Touvron et al. "
            "2023), and it is a decoder-only transformer pretrained by next-token prediction on 1.0–1.4 "
            "trillion tokens of public text, not by multi-task pretraining.", ECON_ERRATA),
    Erratum(A3, "AI大模型的应用领域", "BERT在机器翻译任务上的表现甚至超过了传统的翻译模型", "fact",
            "BERT is an encoder for understanding tasks (classification, question answering); its paper reports "
            "GLUE, SQuAD and SWAG results, not machine translation."),
    Erratum(A3, "1. 预训练（Pre-training）", "在无监督预训练阶段，模型通过对比学习（contrastive learning）等方法学习数据中的潜在特征。",
            "fact",
            "Masked language modelling, which the next sentence describes, is a prediction (denoising) "
            "objective, not contrastive learning; GPT-style models predict the next token."),
    Erratum(A3, "2. 微调（Fine-tuning）", "通常，只需要调整模型的头部层（如分类器层）即可。", "fact",
            "Fine-tuning BERT or GPT usually updates all parameters. Training only a new head on frozen "
            "features is linear probing / feature extraction and is usually weaker; parameter-efficient "
            "methods such as LoRA train small added matrices.", ADAPT),
    Erratum(A3, "2. 微调（Fine-tuning）", r"\text{损失函数} &= \frac{1}{N} \sum_{i=1}^{N} (-\log p(y_i | \theta_{\text{旧}}))",
            "formula",
            "The loss must be a function of the parameters being trained, L(θ) = −(1/N) Σ log p(y_i | x_i; θ), "
            "starting from θ = θ_old. Evaluated at the fixed θ_old it has no gradient with respect to θ (and "
            "the input x_i is missing)."),
    Erratum(A3, "3. 自适应学习（Adaptive Learning）",
            r"\text{自适应参数调整} &= \theta_{\text{新}} = \theta_{\text{旧}} + \alpha \cdot (\theta_{\text{目标}} - \theta_{\text{当前}})",
            "formula",
            "This update needs the target parameters θ_目标, which are what training is trying to find; it is "
            "not a learning algorithm. Real adaptive methods (AdaGrad, RMSProp, Adam) scale the gradient step "
            "per parameter.", MATH_MORE),
    Erratum(A3, "1. 预训练（Pre-training）", r"\text{Attention}(Q, K, V) = \frac{QK^T}{\sqrt{d_k}} \odot V", "formula",
            "Scaled dot-product attention is softmax(QKᵀ/√d_k)·V: a softmax over each row of scores, then a "
            "matrix product with V. The softmax is missing and ⊙ (elementwise product) is not the matrix "
            "product; without the softmax the weights neither sum to 1 nor stay positive.", ATTENTION_BUG),
    Erratum(A3, "1. 预训练（Pre-training）", "随机遮盖其中的5个词", "number",
            "BERT selects 15% of the tokens for prediction (of those, 80% become [MASK], 10% a random token, 10% "
            "stay unchanged); 5 of 10 words is 50%."),
    Erratum(A3, "2. 微调（Fine-tuning）", r"v_t &= \beta_2 v_{t-1} + (1 - \beta_2) \nabla_{\theta}^2 L(\theta)", "formula",
            "∇²L denotes second derivatives (the Hessian or Laplacian). Adam's second moment uses the "
            "elementwise square of the gradient, g_t ⊙ g_t; the update also needs the bias corrections "
            "1/(1 − βᵗ).", MATH_ADAM),
    Erratum(A3, "3. 自适应学习（Adaptive Learning）", r"\alpha_t = 0.1 + (0.01 - 0.1) \cdot \frac{0.01}{0.001}", "number",
            "This evaluates to 0.1 − 0.09 × 10 = −0.8: a negative learning rate, which makes every step climb "
            "the loss. The formula is not an exponential moving average either. A real decay schedule such "
            "as α₀/(1 + βt) stays positive.", MATH_SCHEDULES),
    Erratum(A3, "5.2 源代码详细实现和代码解读", "from tensorflow.keras.preprocessing.text import Tokenizer", "code",
            "keras.preprocessing.text (Tokenizer) is gone from Keras 3; use keras.layers.TextVectorization or a "
            "tokenizer library, and `import keras` rather than tensorflow.keras.", TEXT_CLASSIFIER),
    Erratum(A3, "5.2 源代码详细实现和代码解读", "tokenizer = Tokenizer(num_words=1000)", "code",
            "No oov_token: words not seen in the three training sentences are silently dropped, so the test "
            "sentence 'More examples to follow.' becomes a sequence of padding only. Reserve an out-of-"
            "vocabulary id (oov_token='<unk>').", TEXT_CLASSIFIER),
    Erratum(A3, "5.2 源代码详细实现和代码解读", "predictions = model.predict(test_padded_sequences)", "code",
            "The '模型评估' step only predicts, on two unlabelled sentences: nothing is evaluated. Evaluation "
            "needs labelled held-out data, and three training sentences cannot train a classifier.", TEXT_CLASSIFIER),
    Erratum(A3, "5.1 开发环境搭建", "pip install tensorflow-gpu", "code",
            "pip does not install cuDNN, and the tensorflow-gpu package is discontinued: the tensorflow package "
            "has included GPU support since 2.1; on Linux, pip install 'tensorflow[and-cuda]' also brings the "
            "CUDA and cuDNN libraries."),
    Erratum(A3, "7.2 开发工具框架推荐", "**Keras**：是一个高层次的深度学习API，基于TensorFlow和Theano", "fact",
            "Theano's development ended in 2017. Keras 3 runs on TensorFlow, JAX or PyTorch."),
    Erratum(A3, "7.1 学习资源推荐", "由清华大学自然语言处理实验室开设", "citation",
            "'Natural Language Processing with Deep Learning' is Stanford's CS224N (Christopher Manning), not a "
            "Tsinghua course.", ECON_ERRATA),
    Erratum(A3, "7.3 相关论文著作推荐", "介绍了BERT模型在翻译任务上的优势。BERT模型通过在大量的双语数据上预训练，实现了高质量的翻译效果。",
            "citation",
            "'Bridging the Gap between Human and Machine Translation' is the subtitle of Google's GNMT paper "
            "(Wu et al. 2016), which predates BERT (2018) and does not discuss it; BERT is not pretrained on "
            "bilingual data.", ECON_ERRATA),
    Erratum(A3, "书籍", "《AI大模型：变革与未来》**：作者未知", "citation",
            "The article itself says the author is unknown; we could not identify this book.", ECON_ERRATA),
    Erratum(A3, "书籍", "《强化学习》**：作者Richard S. Sutton和Barnabas P. Szepesvaary", "citation",
            "Reinforcement Learning: An Introduction is by Richard S. Sutton and Andrew G. Barto (2nd ed. "
            "2018).", ECON_ERRATA),
    Erratum(A3, "论文", "作者Jacob Devlin、 Ming-Wei Chang、 Kenton Lee和Kai Zhao", "citation",
            "BERT's fourth author is Kristina Toutanova (Devlin, Chang, Lee, Toutanova, NAACL 2019).",
            ECON_ERRATA),
    Erratum(A3, "论文", "作者Tom B. Brown、Basil P. Cleve、Jason getInstance、Mark E. Hochreiter、Noam Shazeer等", "citation",
            "The GPT-3 paper is 'Language Models are Few-Shot Learners' (Brown et al. 2020). Its author list has "
            "no Cleve, 'getInstance' (a programming identifier) or Hochreiter, and Noam Shazeer is not an "
            "author.", ECON_ERRATA),
    Erratum(A3, "论文", "作者Alexey Dosovitskiy、Laurens van der Wees、Thore Grauer、Jakob Uszkoreit、N.A. Tiedemann等",
            "citation",
            "ViT's authors are Dosovitskiy, Beyer, Kolesnikov, Weissenborn, Zhai, Unterthiner, Dehghani, "
            "Minderer, Heigold, Gelly, Uszkoreit and Houlsby (ICLR 2021); three of the names given are not "
            "among them.", ECON_ERRATA),
    Erratum(A3, "博客", "**Deep Learning on Mars**：这是一个由Andrew Ng创建的博客", "citation",
            "We found no such blog; Andrew Ng's newsletter is The Batch (DeepLearning.AI).", ECON_ERRATA),
    # ------------------------------------------------------------------ 004: optimizers, numeric examples, CNN
    Erratum(A4, "3.1 深度学习算法",
            "    error = y - a\n    dZ = error * activation_derivative(a)\n    dW = dZ * x\n    db = dZ\n"
            "    model['weights'] -= learning_rate * dW", "code",
            "Sign error: with error = y − a, the update weights −= lr·dW moves up the loss. Use error = a − y "
            "(the derivative of the loss with respect to the prediction) with −=, or keep y − a and +=. The "
            "same lines repeat in §3.3.", REG_RUN),
    Erratum(A4, "3.3 模型训练与优化", "m_hat = m / (1 - 0.9 ** epoch)", "code",
            "epoch starts at 0, so the first correction divides by 1 − 0.9⁰ = 0. The bias correction counts "
            "update steps from t = 1, and m and v must persist across epochs (the code resets them to 0 at "
            "every epoch).", MATH_ADAM),
    Erratum(A4, "3.3 模型训练与优化", "model['bias'] -= learning_rate * m_hat / (np.sqrt(v_hat) + 1e-8)", "code",
            "The bias is updated with the weights' moment estimates, which were computed from dW; every "
            "parameter needs its own m and v from its own gradient (db for the bias).", MATH_MORE),
    Erratum(A4, "4.1.1 Sigmoid函数", r"f(3) = \frac{1}{1 + e^{-3}} \approx 0.9502", "number",
            "σ(3) = 1/(1 + e^(−3)) = 1/1.0498 ≈ 0.9526.", MATH_SIGMOID),
    Erratum(A4, "4.2.1 均方误差（MSE）", r"MSE = \frac{1}{3} [(1 - 0.8)^2 + (2 - 1.5)^2 + (3 - 2.2)^2] \approx 0.1667",
            "number", "(0.04 + 0.25 + 0.64)/3 = 0.93/3 = 0.31.", MATH_LOSSES),
    Erratum(A4, "4.2.2 交叉熵（Cross-Entropy）", r"0.2 \log(0.0)) + (0.2 \log(0.1) + 0.3 \log(0.4) + 0.5 \log(0.5))] \approx 0.4217",
            "number",
            "The sum contains 0.2·log(0) = −∞, so the cross-entropy is infinite. Clipped at 1e-7 as Keras does "
            "it is about 1.84, and even the finite terms alone give about 0.76, not 0.4217.", MATH_LOSSES),
    Erratum(A4, "4.3.1 求导法则", r"\frac{x^3 \cdot 2x - x^2 \cdot 3x^2}{x^6} = \frac{2x - 3x^2}{x^5} = \frac{2 - 3x}{x^4}",
            "formula",
            "x³·2x − x²·3x² = 2x⁴ − 3x⁴ = −x⁴, so the derivative of x²/x³ = 1/x is −x⁴/x⁶ = −1/x².",
            MATH_QUOTIENT),
    Erratum(A4, "4.4.1 学习率", r"\alpha = \beta_1 \cdot \alpha_{t-1} + (1 - \beta_1) \cdot \frac{\partial E}{\partial \theta}",
            "formula",
            "Momentum does not change the learning rate: it keeps a velocity of past gradients, "
            "v ← μv − α∇L(θ), θ ← θ + v (or Adam's m_t = β₁m_{t−1} + (1 − β₁)g_t). A learning rate built from "
            "a gradient can even turn negative.", MATH_MOMENTUM),
    Erratum(A4, "5.2 源代码详细实现和代码解读", "train_images = train_images/bin(255)", "code",
            "bin(255) is the string '0b11111111', so this raises TypeError. tfds.load(..., as_supervised=True) "
            "also returns tf.data datasets of (image, label) pairs, which do not unpack into arrays this way; "
            "scale with ds.map(lambda x, y: (tf.cast(x, tf.float32) / 255.0, y))."),
    Erratum(A4, "5.3.1 数据预处理", "用于将图像数据进行二值化处理，即将像素值范围从[0, 255]映射到[0, 1]", "fact",
            "Dividing by 255 scales (normalises, 归一化) the pixels into [0, 1]; binarisation (二值化) would map "
            "each pixel to 0 or 1 and throw information away.", (NB05, "Scaling, and a validation set")),
    Erratum(A4, "5.4 模型部署", "model.save('model.h5')", "code",
            "HDF5 (.h5) is Keras' legacy format; Keras 3 saves to the native .keras format (architecture, "
            "weights and preprocessing layers in one file).", REG_SAVE),
    Erratum(A4, "6.3 推荐系统", "3. 模型训练：使用预训练的AI大模型（如MF、GBDT）进行微调。", "fact",
            "Matrix factorisation (MF) and gradient-boosted trees (GBDT) are neither big models nor pretrained; "
            "they are trained from scratch on the product's interaction logs.",
            (NB01, "5. Application scenarios")),
    Erratum(A4, "7.1.3 技术博客和网站", "**博客园（blog.csdn.net）**：中国最大的IT博客平台", "citation",
            "博客园 is cnblogs.com; blog.csdn.net is CSDN's blog platform.", ECON_ERRATA),
    Erratum(A4, "7.3.1 经典论文", "\"Backpropagation\"（Rumelhart, Hinton, Williams，1986）", "citation",
            "The paper is 'Learning representations by back-propagating errors' (Rumelhart, Hinton & Williams, "
            "Nature 323, 1986).", ECON_ERRATA),
    Erratum(A4, "7.3.1 经典论文", "\"A Theoretical Framework for Learning Dynamic Vision Systems\"（Simonyan, Zisserman，2014）",
            "citation",
            "Simonyan & Zisserman's 2014 paper is 'Very Deep Convolutional Networks for Large-Scale Image "
            "Recognition' (VGG); we found no paper with the title given.", ECON_ERRATA),
    Erratum(A4, "7.3.2 最新研究成果", "\"Large-scale Language Modeling in Machine Translation\"（Koehn et al.，2017）",
            "citation",
            "We found no such paper; the closest is Brants et al., 'Large Language Models in Machine "
            "Translation' (EMNLP-CoNLL 2007).", ECON_ERRATA),
    Erratum(A4, "7.3.3 应用案例分析",
            "\"Recurrent Neural Network based Language Model for Text Classification\"（Ling et al.，2015）", "citation",
            "We found no such paper; 'Recurrent neural network based language model' is Mikolov et al. "
            "(Interspeech 2010), a language-modelling paper.", ECON_ERRATA),
    Erratum(A4, "10. 扩展阅读 & 参考资料",
            "**《自然语言处理综论》（Daniel Jurafsky, James H. Martin著）**：https://nlp.stanford.edu/IR-book/", "citation",
            "That address is Manning, Raghavan & Schütze's Introduction to Information Retrieval. Jurafsky & "
            "Martin's Speech and Language Processing is at https://web.stanford.edu/~jurafsky/slp3/.",
            ECON_ERRATA),
)


def errata_for(article: str | None = None, notebook: str | None = None) -> list[Erratum]:
    """The records of one article file, or those taught in one notebook (stem); all records when both are None."""
    if article is not None and article not in ARTICLES:
        raise ValueError(f"Unknown article {article!r}; valid: {', '.join(ARTICLES)}.")
    return [e for e in ERRATA if (article is None or e.article == article)
            and (notebook is None or (e.taught_in is not None and e.taught_in[0] == notebook))]


def counts() -> dict[str, Counter]:
    """Number of records per article and per kind."""
    return {"article": Counter(e.article for e in ERRATA), "kind": Counter(e.kind for e in ERRATA)}


def errata_table(article: str):
    """One article's records as a DataFrame with bilingual column names, for the appendix notebook."""
    import pandas as pd

    return pd.DataFrame([{"section 章节": e.section, "the article says 原文": e.quote, "kind 类型": e.kind,
                          "correction 更正": e.correction, "taught in 课程": e.where_taught}
                         for e in errata_for(article)])
