"""Coverage: every distinct claim of the seed article and what tests it.

Not an experiment (no get_config): the article's claims no experiment file
quotes, each with why it is not tested, and the article's section headings.
`lnexp.claims.writeup` renders the report's Coverage section from these and
from the `QUOTES` of every experiments/NAME.py (the claims its rule decides),
in the article's order, each under its section and with its verdict.
tests/test_coverage.py checks that every quote is verbatim in the article,
once, that every section has a row, and that every finding exists.
`note` says where the article is wrong or loose.
"""
from lnexp.claims.catalog import Quote
from lnexp.claims.sizes import NO_ALBERTAGPT, POST_PRE

ARTICLE = 'seed-article.txt'  # the seed article, beside this file

# The article's section headings in order (the first is its title: the opening
# paragraph sits under it). Every one makes claims.
HEADINGS = ('Layer Normalization AlbertAGPT',
            'Layer Normalization: Mathematical Formulation',
            'Impact on Gradient Flow and Training Stability',
            'Internal Covariate Shift Reduction and Learning Efficiency',
            'Preventing Error Accumulation in Deep Networks',
            'Application in Transformer Models',
            'AlbertAGPT’s Use of Layer Normalization',
            'Managing Information Flow Between Layers',
            'Reducing Hyperparameter Sensitivity',
            'Enhanced Generalization and Regularization',
            'Comparison with Other Normalization Techniques',
            'Future Directions in Layer Normalization Research',
            'Conclusion')

QUOTES = (
    # ------------------------------------------------------------- title
    Quote('The scale of these gradients significantly influences the stability '
          'and efficiency of training. Large gradients can cause erratic updates, '
          'potentially leading to divergent behavior, while small gradients may slow '
          'down or halt learning.',
          reason='background on optimization, not a claim about LayerNorm'),
    # ------------------------------------------------------------- formulation
    Quote('Layer normalization, introduced by Ba, Kiros, and Hinton in 2016',
          reason='bibliographic fact (correct: arXiv:1607.06450)'),
    Quote('normalizes the activations within a neural layer by adjusting the mean '
          'and variance of each neuron’s activations across a single input',
          reason='definition; lnexp/models/norms.py implements it, tests/test_norms.py checks it',
          note='loose: LayerNorm computes one mean and one variance over all the '
          'features of one input (per token), not statistics of each neuron'),
    Quote('Unlike batch normalization, which normalizes across the batch dimension, '
          'layer normalization works across the features of each input individually',
          reason='definition (correct)'),
    # ------------------------------------------------------------- gradient flow
    # ------------------------------------------------------------- ICS
    Quote('improved performance on tasks like sequence generation and machine '
          'translation', reason='no translation task at this scale; instruments.py '
          '(finding 16) tests the long-range part on topics, lstm_covariate_shift the LSTM '
          'loss',
          note='no source given; Ba et al. 2016 report faster LN-LSTM training on '
          'reading comprehension, skip-thoughts, DRAW and handwriting, not translation'),
    # ------------------------------------------------------------- error accumulation
    Quote('For example, in deep convolutional networks used for image '
          'recognition, normalization helps to manage the variability in feature '
          'activations caused by different input images.',
          reason='about normalization in general in CNNs (BatchNorm there), not '
          'LayerNorm; cnn_depth measures growth over depth, not variability across '
          'images'),
    Quote('In convolutional neural networks (CNNs), convolutional layers extract '
          'spatial hierarchies of features from the input data.',
          reason='background on CNNs, not a claim about normalization'),
    Quote('This approach is essential in maintaining the model’s capacity to learn '
          'complex, multi-scale features without degradation in performance.',
          reason='"essential" needs every alternative to fail; cnn_depth reports test '
          'accuracy per norm without a rule on it',
          note='deep ResNets train without normalization (Fixup, Zhang et al. 2019; '
          'NFNets, Brock et al. 2021)'),
    # ------------------------------------------------------------- transformers
    Quote('In transformer architectures, such as BERT, GPT, and AlbertAGPT, '
          'layer normalization plays a pivotal role by normalizing the activations after '
          'each sub-layer operation, including the self-attention and position-wise '
          'feedforward layers.',
          reason='a description of architectures; lnexp tests post, pre and peri '
          'placements (model.placement)', note=POST_PRE),
    Quote('Output=LayerNorm(Input+SubLayer(Input))',
          reason='the post-LN formula, lnexp\'s model.placement=post',
          note='true of post-LN only; pre-LN is x + SubLayer(LayerNorm(x))'),
    # ------------------------------------------------------------- AlbertAGPT
    Quote('In this architecture, LayerNorm is applied after the feedforward and '
          'attention mechanisms within each transformer block.',
          reason='a description of the architecture (lnexp\'s default, post-LN)',
          note=NO_ALBERTAGPT),
    # ------------------------------------------------------------- information flow
    Quote('In deep networks, layer outputs can vary widely in scale due to the '
          'inherent differences in layer operations and activation functions.',
          reason='background; depth.py reports no-norm\'s residual RMS over depth beside '
          'claim 4, without a rule on it'),
    # ------------------------------------------------------------- hyperparameters
    Quote('This robustness is particularly valuable when dealing with large models '
          'where hyperparameter tuning is challenging.',
          reason='a claim about large models; the CPU suite is a small-scale proxy '
          '(`--size accel` runs claim 2 at d=256 on one accelerator; not run yet)'),
    Quote('This flexibility is crucial for optimizing models efficiently, '
          'especially in large-scale settings.',
          reason='a value judgement about large-scale settings, beyond a CPU proxy'),
    # ------------------------------------------------------------- generalization
    # ------------------------------------------------------------- comparison
    # ------------------------------------------------------------- future
    Quote('Ongoing research in normalization techniques explores the integration '
          'of LayerNorm with other methods, such as group normalization and instance '
          'normalization, to further enhance training stability.',
          reason='a statement about the literature, no citation',
          note='group normalization (Wu & He 2018) already contains LayerNorm (1 group) '
          'and instance normalization (1 channel per group) as special cases'),
    Quote('New approaches are being developed to fine-tune the scaling and '
          'shifting parameters dynamically, allowing for adaptive normalization that '
          'responds to changing training conditions.',
          reason='a statement about the literature, no citation',
          note='adaptive gains exist (AdaNorm, Xu et al. 2019; conditional adaLN in '
          'diffusion transformers), none cited'),
    Quote('These advancements could further improve the performance of '
          'large-scale models like AlbertAGPT.', reason='speculation'),
    Quote('As neural architectures continue to grow in complexity, the principles '
          'underlying layer normalization will be crucial in maintaining training '
          'efficiency and stability.', reason='a prediction',
          note='normalization-free transformers with DyT match LayerNorm (Zhu et al. '
          '2025; lr_sensitivity checks it, finding 2-dyt)'),
    Quote('Future models may leverage adaptive layer normalization techniques that '
          'optimize the balance between stability and flexibility, unlocking new '
          'frontiers in artificial intelligence research.', reason='speculation'),
    # ------------------------------------------------------------- conclusion
    Quote('In advanced architectures like AlbertAGPT, it plays a crucial role in '
          'ensuring steady learning dynamics, making it an indispensable technique in the '
          'evolving landscape of deep learning.',
          reason='"indispensable" is a claim about every alternative; the suite compares '
          'LayerNorm with no norm, ReZero, DeepNorm, RMSNorm, BatchNorm, PowerNorm and '
          'DyT, not with every alternative',
          note='deep networks train without normalization (Fixup; NFNets; DyT, Zhu et '
          'al. 2025)'),
)
