"""Coverage: every distinct claim of the seed article and what tests it.

Not an experiment (no get_config): a table that `lnexp.claims.report` renders
as the report's Coverage section, each row with the verdict of the rule that
decides it, or *not tested* and why. HEADINGS are the article's sections, in
order; each makes at least one claim and has at least one row
(tests/test_coverage.py checks that, that every quote is verbatim in the
article up to whitespace, and that every named experiment and finding exists).

A row is tested when an experiment's pre-registered rule decides it:
`experiment` names experiments/NAME.py and `finding` the key of that rule's
verdict (`lnexp.claims.report.CLAIMS`, or a literature check such as '2-lit').
A claim an experiment only logs data for, without a rule, is not tested.
`note` says where the article is wrong or loose.
"""
from __future__ import annotations

from typing import NamedTuple

ARTICLE = '../shared/seed/layer-normalization-albertagpt.txt'


class Claim(NamedTuple):
  heading: str
  quote: str                    # verbatim from the article (whitespace aside)
  experiment: str | None = None  # experiments/NAME.py whose rule decides it
  finding: str | None = None    # the key of that rule's verdict
  reason: str = ''              # why it is not tested (experiment None)
  note: str = ''                # where the article is wrong or loose


INTRO = 'Layer Normalization AlbertAGPT'
MATH = 'Layer Normalization: Mathematical Formulation'
GRAD = 'Impact on Gradient Flow and Training Stability'
ICS = 'Internal Covariate Shift Reduction and Learning Efficiency'
ERROR = 'Preventing Error Accumulation in Deep Networks'
TRANSFORMER = 'Application in Transformer Models'
ALBERT = 'AlbertAGPT’s Use of Layer Normalization'
FLOW = 'Managing Information Flow Between Layers'
HYPER = 'Reducing Hyperparameter Sensitivity'
GENERAL = 'Enhanced Generalization and Regularization'
COMPARE = 'Comparison with Other Normalization Techniques'
FUTURE = 'Future Directions in Layer Normalization Research'
CONCLUSION = 'Conclusion'
# The article's section headings in order (INTRO is its title: the opening
# paragraph sits under it). Every one makes claims.
HEADINGS = (INTRO, MATH, GRAD, ICS, ERROR, TRANSFORMER, ALBERT, FLOW, HYPER, GENERAL,
            COMPARE, FUTURE, CONCLUSION)

# Reasons shared by several rows.
NO_RULE = 'not tested: no pre-registered experiment yet (a follow-up issue); '
CONTEXT_DATA = (NO_RULE + 'it needs a long-range dependency test; data.source=topics '
                '(exact Bayes and previous-token losses) carries claims 2, 5 and 10-13, '
                'but no rule isolates long-term dependencies')
BY_CONSTRUCTION = ('tested by perturbation (does an error injected after block 1 grow '
                   'or shrink?): the old measure, residual scale, is ~1 by construction '
                   'in post-LN')
POST_PRE = ('post-LN (LayerNorm after each residual sum) is the original Transformer, '
            'BERT, GPT-1 and ALBERT; GPT-2, GPT-3 and most later LLMs use pre-LN '
            '(LayerNorm at each sub-layer\'s input, plus a final one)')
NO_ALBERTAGPT = ('no public description of AlbertAGPT exists; lnexp tests an ALBERT-'
                 'style (shared-layer) GPT in its place')
CLAIMS = (
    # ------------------------------------------------------------- title
    Claim(INTRO, 'The scale of these gradients significantly influences the stability '
          'and efficiency of training. Large gradients can cause erratic updates, '
          'potentially leading to divergent behavior, while small gradients may slow '
          'down or halt learning.',
          reason='background on optimization, not a claim about LayerNorm'),
    Claim(INTRO, 'Layer normalization (LayerNorm) is a technique that addresses these '
          'issues by standardizing activations within each layer, allowing for smoother '
          'gradient flow and improving overall training stability.', 'depth', '1'),
    # ------------------------------------------------------------- formulation
    Claim(MATH, 'Layer normalization, introduced by Ba, Kiros, and Hinton in 2016',
          reason='bibliographic fact (correct: arXiv:1607.06450)'),
    Claim(MATH, 'normalizes the activations within a neural layer by adjusting the mean '
          'and variance of each neuron’s activations across a single input',
          reason='definition; lnexp/models/norms.py implements it, tests/test_norms.py checks it',
          note='loose: LayerNorm computes one mean and one variance over all the '
          'features of one input (per token), not statistics of each neuron'),
    Claim(MATH, 'Unlike batch normalization, which normalizes across the batch dimension, '
          'layer normalization works across the features of each input individually',
          reason='definition (correct)'),
    Claim(MATH, 'making it particularly effective in models where the batch size is small '
          'or varies, such as in natural language processing (NLP) models that handle '
          'variable-length sequences', 'batchnorm_text', '7'),
    Claim(MATH, 'This approach allows the model to retain the expressiveness of its '
          'activations while maintaining stable distributions during training.',
          'mechanism', '13',
          note='Xu et al. 2019 found the gain and bias often add overfitting and can be '
          'dropped (LayerNorm-simple)'),
    # ------------------------------------------------------------- gradient flow
    Claim(GRAD, 'By standardizing activations within each layer, layer normalization '
          'helps maintain the gradients within a reasonable range during '
          'backpropagation.', 'depth', '1'),
    Claim(GRAD, 'Without normalization, deeper layers might produce highly varied '
          'outputs, leading to unstable gradients that oscillate or diminish across '
          'layers.', 'depth', '1'),
    Claim(GRAD, 'LayerNorm smooths the optimization landscape by keeping gradients more '
          'consistent, which is especially beneficial in models that stack many layers, '
          'such as transformers.',
          reason=NO_RULE + 'lnexp.measure.smoothness measures the loss and gradient change '
          'along the gradient (Santurkar et al. 2018, effective beta-smoothness); no '
          'experiment applies it with and without a norm',
          note='Santurkar et al. 2018 showed smoothing for BatchNorm; for LayerNorm in '
          'transformers it is asserted, not cited'),
    Claim(GRAD, 'In transformer architectures, layer normalization is applied after the '
          'self-attention and feedforward sub-layers, ensuring that the gradients do not '
          'vary wildly between layers.', 'gradient_scaling', '1b',
          note=POST_PRE + '; Xiong et al. 2020 show post-LN\'s gradients near the output '
          'are large at initialization (hence its warm-up), pre-LN\'s are not'),
    Claim(GRAD, 'This consistent scaling prevents the network from making overly '
          'aggressive or overly cautious updates, which could destabilize training.',
          reason=NO_RULE + 'the update/parameter RMS ratios are logged per parameter '
          'group (`update_ratio/*`); a verdict needs them per layer (unshared) and a rule '
          'on their spread'),
    # ------------------------------------------------------------- ICS
    Claim(ICS, 'Layer normalization addresses the issue of internal covariate shift—the '
          'change in the distribution of layer inputs as network parameters are '
          'updated.', 'covariate_shift', '5',
          note='that reducing internal covariate shift is why normalization helps is '
          'disputed (Santurkar et al. 2018, for BatchNorm)'),
    Claim(ICS, 'This shift forces the model to continually adapt to new data '
          'distributions, slowing down the training process.', 'covariate_shift', '5',
          note='the rule compares drift; the drift-loss correlation is only reported'),
    Claim(ICS, 'For example, in recurrent neural networks (RNNs) like LSTMs, where hidden '
          'state dynamics evolve over time, LayerNorm can dramatically reduce the '
          'covariate shift, stabilizing the learning process.', 'lstm_covariate_shift',
          '8'),
    Claim(ICS, 'Without normalization, the hidden states can exhibit high variance across '
          'time', 'lstm_covariate_shift', '8'),
    Claim(ICS, 'complicating the learning of long-term dependencies', reason=CONTEXT_DATA),
    Claim(ICS, 'Layer normalization addresses this by stabilizing the outputs of each time '
          'step', 'lstm_covariate_shift', '8'),
    Claim(ICS, 'ensuring that the model remains sensitive to new information without '
          'losing track of past data', reason=CONTEXT_DATA + ' (a per-position gap to '
          'the Bayes loss would show what the model keeps of the past)',
          note='vague: no measure is named'),
    Claim(ICS, 'This results in more efficient training, as evidenced by faster '
          'convergence rates', 'lstm_covariate_shift', '8'),
    Claim(ICS, 'improved performance on tasks like sequence generation and machine '
          'translation', reason=CONTEXT_DATA + '; no translation task at this scale',
          note='no source given; Ba et al. 2016 report faster LN-LSTM training on '
          'reading comprehension, skip-thoughts, DRAW and handwriting, not translation'),
    # ------------------------------------------------------------- error accumulation
    Claim(ERROR, 'As information flows through the layers of a deep network, small '
          'errors can compound, leading to significant deviations in the model’s '
          'output. This problem, particularly acute in architectures with many layers, is '
          'alleviated by layer normalization.', 'depth', '4',
          note=BY_CONSTRUCTION),
    Claim(ERROR, 'For example, in deep convolutional networks used for image '
          'recognition, normalization helps to manage the variability in feature '
          'activations caused by different input images.',
          reason='about normalization in general in CNNs (BatchNorm there), not '
          'LayerNorm; cnn_depth measures growth over depth, not variability across '
          'images'),
    Claim(ERROR, 'In convolutional neural networks (CNNs), convolutional layers extract '
          'spatial hierarchies of features from the input data.',
          reason='background on CNNs, not a claim about normalization'),
    Claim(ERROR, 'Without normalization, the activations of deeper layers can grow '
          'disproportionately, leading to sharp gradients that destabilize the '
          'training.', 'cnn_depth', '9'),
    Claim(ERROR, 'LayerNorm mitigates this by maintaining consistent activations across '
          'all neurons in each layer, thereby reducing the potential for error '
          'accumulation.', 'cnn_depth', '9',
          note='CNNs normally use BatchNorm or GroupNorm; LayerNorm over (C, H, W) '
          'usually trails both in accuracy (Wu & He 2018)'),
    Claim(ERROR, 'This approach is essential in maintaining the model’s capacity to learn '
          'complex, multi-scale features without degradation in performance.',
          reason='"essential" needs every alternative to fail; cnn_depth reports test '
          'accuracy per norm without a rule on it',
          note='deep ResNets train without normalization (Fixup, Zhang et al. 2019; '
          'NFNets, Brock et al. 2021)'),
    # ------------------------------------------------------------- transformers
    Claim(TRANSFORMER, 'In transformer architectures, such as BERT, GPT, and AlbertAGPT, '
          'layer normalization plays a pivotal role by normalizing the activations after '
          'each sub-layer operation, including the self-attention and position-wise '
          'feedforward layers.',
          reason='a description of architectures; lnexp tests post, pre and peri '
          'placements (model.placement)', note=POST_PRE),
    Claim(TRANSFORMER, 'Output=LayerNorm(Input+SubLayer(Input))',
          reason='the post-LN formula, lnexp\'s model.placement=post',
          note='true of post-LN only; pre-LN is x + SubLayer(LayerNorm(x))'),
    Claim(TRANSFORMER, 'This setup helps to stabilize the training of the highly '
          'expressive self-attention mechanisms, where the dynamic range of activations '
          'can vary significantly.',
          reason='not isolated: attention-logit range with and without post-LN has no '
          'rule; the related Wortsman et al. check (finding 2-lit) normalizes queries '
          'and keys, not sub-layer outputs'),
    Claim(TRANSFORMER, 'For instance, in AlbertAGPT, which scales down the parameters '
          'while retaining performance, LayerNorm ensures that the smaller parameter '
          'space does not lead to overly aggressive learning rates or unstable gradient '
          'magnitudes.', 'sharing', '11',
          note='ALBERT (Lan et al. 2019) shares layers to cut parameters, not compute; '
          'no link from fewer parameters to "aggressive learning rates" is given'),
    # ------------------------------------------------------------- AlbertAGPT
    Claim(ALBERT, 'AlbertAGPT utilizes layer normalization extensively to manage the flow '
          'of information between its layers, enhancing training stability.',
          'lr_sensitivity', '2', note=NO_ALBERTAGPT),
    Claim(ALBERT, 'In this architecture, LayerNorm is applied after the feedforward and '
          'attention mechanisms within each transformer block.',
          reason='a description of the architecture (lnexp\'s default, post-LN)',
          note=NO_ALBERTAGPT),
    Claim(ALBERT, 'By normalizing the outputs at each stage, AlbertAGPT effectively '
          'balances the contributions of each layer, ensuring that no single layer '
          'disproportionately influences the model’s learning dynamics.',
          reason=NO_RULE + 'sublayer output and residual RMS per depth are logged; no '
          'rule on the spread of each sublayer\'s share of the residual stream',
          note='in post-LN each LayerNorm rescales the whole residual sum, so later '
          'layers outweigh earlier ones (Liu et al. 2020); pre-LN has the opposite '
          'drift'),
    Claim(ALBERT, 'For example, during the training of AlbertAGPT on large-scale datasets, '
          'the variability in sentence length and structure can cause instability if not '
          'properly managed.', 'variable_length', '12',
          note=NO_ALBERTAGPT),
    Claim(ALBERT, 'Layer normalization ensures that each token’s contextual representation '
          'is scaled appropriately, allowing the model to maintain a steady learning rate '
          'and prevent divergence, even when dealing with complex input sequences.',
          'lr_sensitivity', '2'),
    # ------------------------------------------------------------- information flow
    Claim(FLOW, 'Layer normalization’s ability to maintain consistent activation scales '
          'directly impacts how information flows between layers.', 'depth', '4',
          note=BY_CONSTRUCTION),
    Claim(FLOW, 'In deep networks, layer outputs can vary widely in scale due to the '
          'inherent differences in layer operations and activation functions.',
          reason='background; depth.py reports no-norm\'s residual RMS over depth beside '
          'claim 4, without a rule on it'),
    Claim(FLOW, 'For instance, in NLP models using transformers, embedding layers produce '
          'outputs that need to be scaled appropriately for subsequent attention layers.',
          'embedding_scale', '10'),
    Claim(FLOW, 'LayerNorm maintains these activations within a range conducive to stable '
          'training.', 'embedding_scale', '10b'),
    Claim(FLOW, 'In AlbertAGPT, the consistency provided by layer normalization across '
          'different layers ensures that the model can accurately propagate learned '
          'features from one layer to the next without distortion.', 'depth', '4',
          note=BY_CONSTRUCTION),
    Claim(FLOW, 'This consistency is crucial for building hierarchical representations '
          'that capture long-term dependencies in data, such as the complex grammatical '
          'structures found in natural language.', reason=CONTEXT_DATA),
    # ------------------------------------------------------------- hyperparameters
    Claim(HYPER, 'Layer normalization also reduces sensitivity to hyperparameters such as '
          'learning rates, weight initialization, and batch sizes.', 'hyperparams', '3'),
    Claim(HYPER, 'This robustness is particularly valuable when dealing with large models '
          'where hyperparameter tuning is challenging.',
          reason='a claim about large models; the CPU suite is a small-scale proxy '
          '(`--size accel` runs claim 2 at d=256 on one accelerator; not run yet)'),
    Claim(HYPER, 'For instance, in traditional training scenarios without normalization, '
          'slight variations in learning rate can lead to drastic changes in convergence '
          'behavior.', 'lr_sensitivity', '2'),
    Claim(HYPER, 'LayerNorm mitigates this by standardizing layer activations',
          'mechanism', '13-lit',
          note='tested against Xu et al. 2019\'s alternative: DetachNorm keeps the '
          'standardized forward pass and drops the gradient through the statistics'),
    Claim(HYPER, 'allowing for more lenient and less critical hyperparameter choices.',
          'hyperparams', '3'),
    Claim(HYPER, 'Experimental results from models like AlbertAGPT demonstrate that with '
          'layer normalization, training can proceed smoothly across a wider range of '
          'learning rates, reducing the trial-and-error process often associated with '
          'deep learning.', 'lr_sensitivity', '2',
          note='no experimental results are cited or shown'),
    Claim(HYPER, 'This flexibility is crucial for optimizing models efficiently, '
          'especially in large-scale settings.',
          reason='a value judgement about large-scale settings, beyond a CPU proxy'),
    # ------------------------------------------------------------- generalization
    Claim(GENERAL, 'Layer normalization has an implicit regularization effect, which can '
          'enhance the generalization of neural networks.', 'generalization', '6'),
    Claim(GENERAL, 'By maintaining consistent activation distributions, LayerNorm helps '
          'prevent overfitting, a common problem in deep networks with high capacity.',
          'generalization', '6'),
    Claim(GENERAL, 'For instance, in transformer-based language models, where millions of '
          'parameters are tuned on vast corpora, normalization helps constrain the '
          'model’s learning capacity, guiding it towards more robust solutions.',
          'generalization', '6',
          note='capacity is not measured, the generalization gap is; overfitting is rare '
          'on vast corpora (a model sees each token about once)'),
    Claim(GENERAL, 'Empirical studies have shown that models utilizing LayerNorm tend to '
          'perform better on unseen data compared to those without, highlighting its role '
          'as a regularization technique.', 'generalization', '6',
          note='no studies cited; lower eval loss from better optimization is not '
          'regularization, so the rule compares gaps at matched train loss'),
    Claim(GENERAL, 'In AlbertAGPT, this results in a model that not only learns '
          'effectively during training but also maintains performance during inference on '
          'previously unseen inputs.', 'generalization', '6', note=NO_ALBERTAGPT),
    # ------------------------------------------------------------- comparison
    Claim(COMPARE, 'it is uniquely suited to scenarios where batch-level statistics are not '
          'easily computed or relevant', 'batchnorm_text', '7',
          note='"uniquely": RMSNorm and DyT need no batch statistics either'),
    Claim(COMPARE, 'BatchNorm normalizes activations using statistics computed across the '
          'entire batch, making it less effective in sequential tasks where each input '
          'can differ significantly in size or structure.', 'batchnorm_text', '7'),
    Claim(COMPARE, 'For instance, in RNNs processing variable-length sequences, BatchNorm '
          'can disrupt temporal dependencies, whereas LayerNorm operates independently of '
          'the batch dimension.',
          reason='lstm_covariate_shift runs per-time-step BatchNorm on packed windows '
          'without a BatchNorm rule; no variable-length RNN data',
          note='Cooijmans et al. 2016 train BatchNorm LSTMs well with per-time-step '
          'statistics'),
    Claim(COMPARE, 'In AlbertAGPT, the sequential and often variable nature of inputs '
          'makes LayerNorm an optimal choice, as it provides consistent normalization '
          'across diverse inputs without relying on batch statistics.', 'batchnorm_text',
          '7', note='"optimal" is not tested: the rule compares LayerNorm with BatchNorm '
          'only'),
    Claim(COMPARE, 'This independence allows for more reliable training, particularly in '
          'low-resource settings where batch sizes cannot be guaranteed.',
          'batchnorm_text', '7'),
    # ------------------------------------------------------------- future
    Claim(FUTURE, 'Ongoing research in normalization techniques explores the integration '
          'of LayerNorm with other methods, such as group normalization and instance '
          'normalization, to further enhance training stability.',
          reason='a statement about the literature, no citation',
          note='group normalization (Wu & He 2018) already contains LayerNorm (1 group) '
          'and instance normalization (1 channel per group) as special cases'),
    Claim(FUTURE, 'New approaches are being developed to fine-tune the scaling and '
          'shifting parameters dynamically, allowing for adaptive normalization that '
          'responds to changing training conditions.',
          reason='a statement about the literature, no citation',
          note='adaptive gains exist (AdaNorm, Xu et al. 2019; conditional adaLN in '
          'diffusion transformers), none cited'),
    Claim(FUTURE, 'These advancements could further improve the performance of '
          'large-scale models like AlbertAGPT.', reason='speculation'),
    Claim(FUTURE, 'As neural architectures continue to grow in complexity, the principles '
          'underlying layer normalization will be crucial in maintaining training '
          'efficiency and stability.', reason='a prediction',
          note='normalization-free transformers with DyT match LayerNorm (Zhu et al. '
          '2025; lr_sensitivity checks it, finding 2-dyt)'),
    Claim(FUTURE, 'Future models may leverage adaptive layer normalization techniques that '
          'optimize the balance between stability and flexibility, unlocking new '
          'frontiers in artificial intelligence research.', reason='speculation'),
    # ------------------------------------------------------------- conclusion
    Claim(CONCLUSION, 'stabilizes training in deep neural networks by managing gradient '
          'flow', 'depth', '1'),
    Claim(CONCLUSION, 'reducing internal covariate shifts', 'covariate_shift', '5'),
    Claim(CONCLUSION, 'preventing error accumulation across layers', 'depth', '4',
          note=BY_CONSTRUCTION),
    Claim(CONCLUSION, 'In advanced architectures like AlbertAGPT, it plays a crucial role in '
          'ensuring steady learning dynamics, making it an indispensable technique in the '
          'evolving landscape of deep learning.',
          reason='"indispensable" is a claim about every alternative; the suite compares '
          'LayerNorm with no norm, ReZero, DeepNorm, RMSNorm, BatchNorm, PowerNorm and '
          'DyT, not with every alternative',
          note='deep networks train without normalization (Fixup; NFNets; DyT, Zhu et '
          'al. 2025)'),
)
