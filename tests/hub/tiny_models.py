"""Tiny random-weight models built offline (a few layers, a word-level tokenizer, image/audio processors constructed
directly), saved with ``save_pretrained``: test and benchmark fixtures for the transformers backend. They produce
meaningless labels and text, but exercise the real loading and inference code paths end to end.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

WORDS = ("the", "a", "an", "is", "was", "on", "in", "of", "and", "to", "cat", "dog", "sat", "mat", "movie",
         "film", "good", "bad", "great", "terrible", "new", "york", "paris", "london", "john", "mary", "lives",
         "works", "city", "summary", "text", "short", "long", "story", "today", "weather", "sunny",)
LABELS_NER = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]


def _word_tokenizer(kind: str = "bert"):  # type: ignore[no-untyped-def]
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "<s>", "</s>"]
    vocab = {t: i for i, t in enumerate([*specials, *WORDS])}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    if kind == "bert":
        tok.post_processor = processors.TemplateProcessing(
            single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]",
            special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])])
        fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                                       sep_token="[SEP]", mask_token="[MASK]")
    else:
        tok.post_processor = processors.TemplateProcessing(single="$A </s>",
                                                           special_tokens=[("</s>", vocab["</s>"])])
        fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", bos_token="<s>",
                                       eos_token="</s>")
    return fast, vocab


def _bert_config(labels: list[str], vocab_size: int):  # type: ignore[no-untyped-def]
    from transformers import BertConfig

    return BertConfig(vocab_size=vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                      intermediate_size=64, max_position_embeddings=128, id2label=dict(enumerate(labels)),
                      label2id={label: i for i, label in enumerate(labels)})


def text_classification(out: Path) -> Path:
    from transformers import BertForSequenceClassification

    tok, vocab = _word_tokenizer()
    BertForSequenceClassification(_bert_config(["NEGATIVE", "POSITIVE"], len(vocab))).save_pretrained(out)
    tok.save_pretrained(out)
    return out


def token_classification(out: Path) -> Path:
    from transformers import BertForTokenClassification

    tok, vocab = _word_tokenizer()
    BertForTokenClassification(_bert_config(LABELS_NER, len(vocab))).save_pretrained(out)
    tok.save_pretrained(out)
    return out


def question_answering(out: Path) -> Path:
    from transformers import BertForQuestionAnswering

    tok, vocab = _word_tokenizer()
    BertForQuestionAnswering(_bert_config(["start", "end"], len(vocab))).save_pretrained(out)
    tok.save_pretrained(out)
    return out


def summarization(out: Path) -> Path:
    from transformers import BartConfig, BartForConditionalGeneration

    tok, vocab = _word_tokenizer("seq2seq")
    cfg = BartConfig(vocab_size=len(vocab), d_model=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
                     decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=128,
                     pad_token_id=vocab["[PAD]"], bos_token_id=vocab["<s>"], eos_token_id=vocab["</s>"],
                     decoder_start_token_id=vocab["</s>"], forced_eos_token_id=vocab["</s>"])
    model = BartForConditionalGeneration(cfg)
    model.generation_config.min_new_tokens = 3  # random weights would often stop at once; keep the output visible
    model.generation_config.max_new_tokens = 12
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out


def _vit_labels() -> dict[str, Any]:
    return {"id2label": {0: "cat", 1: "dog"}, "label2id": {"cat": 0, "dog": 1}}


def image_classification(out: Path) -> Path:
    from transformers import ViTConfig, ViTForImageClassification, ViTImageProcessor

    cfg = ViTConfig(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                    intermediate_size=64, **_vit_labels())
    ViTForImageClassification(cfg).save_pretrained(out)
    ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(out)
    return out


def object_detection(out: Path) -> Path:
    from transformers import YolosConfig, YolosForObjectDetection, YolosImageProcessor

    cfg = YolosConfig(image_size=[32, 32], patch_size=8, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                      intermediate_size=64, num_detection_tokens=5, **_vit_labels())
    YolosForObjectDetection(cfg).save_pretrained(out)
    YolosImageProcessor(size={"shortest_edge": 32, "longest_edge": 32}).save_pretrained(out)
    return out


def image_segmentation(out: Path) -> Path:
    from transformers import SegformerConfig, SegformerForSemanticSegmentation, SegformerImageProcessor

    labels = ["background", "cat", "dog"]
    cfg = SegformerConfig(num_encoder_blocks=2, depths=[1, 1], sr_ratios=[2, 1], hidden_sizes=[8, 16],
                          patch_sizes=[7, 3], strides=[4, 2], num_attention_heads=[1, 1], mlp_ratios=[2, 2],
                          decoder_hidden_size=16, id2label=dict(enumerate(labels)),
                          label2id={label: i for i, label in enumerate(labels)})
    SegformerForSemanticSegmentation(cfg).save_pretrained(out)
    SegformerImageProcessor(size={"height": 32, "width": 32}).save_pretrained(out)
    return out


def automatic_speech_recognition(out: Path) -> Path:
    from transformers import (
        Wav2Vec2Config,
        Wav2Vec2CTCTokenizer,
        Wav2Vec2FeatureExtractor,
        Wav2Vec2ForCTC,
        Wav2Vec2Processor,
    )

    out.mkdir(parents=True, exist_ok=True)
    vocab = {"<pad>": 0, "<s>": 1, "</s>": 2, "<unk>": 3, "|": 4,
             **{c: i + 5 for i, c in enumerate("abcdefghijklmnopqrstuvwxyz'")}}
    (out / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    tok = Wav2Vec2CTCTokenizer(str(out / "vocab.json"), unk_token="<unk>", pad_token="<pad>", word_delimiter_token="|")
    fe = Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=16000, padding_value=0.0, do_normalize=True,
                                  return_attention_mask=False)
    cfg = Wav2Vec2Config(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=64, conv_dim=(16, 16), conv_stride=(5, 4), conv_kernel=(10, 4),
                         num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2, pad_token_id=0,
                         do_stable_layer_norm=True, feat_extract_norm="layer")
    Wav2Vec2ForCTC(cfg).save_pretrained(out)
    Wav2Vec2Processor(feature_extractor=fe, tokenizer=tok).save_pretrained(out)
    return out


def text_generation(out: Path) -> Path:
    from transformers import GPT2Config, GPT2LMHeadModel

    tok, vocab = _word_tokenizer("seq2seq")
    cfg = GPT2Config(vocab_size=len(vocab), n_embd=32, n_layer=2, n_head=2, n_positions=128,
                     bos_token_id=vocab["<s>"], eos_token_id=vocab["</s>"], pad_token_id=vocab["[PAD]"])
    model = GPT2LMHeadModel(cfg)
    model.generation_config.max_new_tokens = 8
    model.generation_config.min_new_tokens = 2
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out


def zero_shot_classification(out: Path) -> Path:
    from transformers import BertForSequenceClassification

    tok, vocab = _word_tokenizer()  # an NLI head: the pipeline looks for the "entailment" label
    BertForSequenceClassification(_bert_config(["contradiction", "neutral", "entailment"], len(vocab))) \
        .save_pretrained(out)
    tok.save_pretrained(out)
    return out


def feature_extraction(out: Path) -> Path:
    from transformers import BertModel

    tok, vocab = _word_tokenizer()
    BertModel(_bert_config(["x"], len(vocab))).save_pretrained(out)
    tok.save_pretrained(out)
    return out


def image_to_text(out: Path) -> Path:
    """A vit-gpt2-style captioner: ViT encoder, GPT-2 decoder with cross-attention, no joint processor."""
    from transformers import (
        GPT2Config,
        VisionEncoderDecoderConfig,
        VisionEncoderDecoderModel,
        ViTConfig,
        ViTImageProcessor,
    )

    tok, vocab = _word_tokenizer("seq2seq")
    enc = ViTConfig(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                    intermediate_size=64)
    dec = GPT2Config(vocab_size=len(vocab), n_embd=32, n_layer=1, n_head=2, n_positions=64, add_cross_attention=True,
                     bos_token_id=vocab["<s>"], eos_token_id=vocab["</s>"], pad_token_id=vocab["[PAD]"])
    dec.is_decoder = True
    cfg = VisionEncoderDecoderConfig.from_encoder_decoder_configs(enc, dec)
    cfg.decoder_start_token_id, cfg.pad_token_id, cfg.eos_token_id = vocab["<s>"], vocab["[PAD]"], vocab["</s>"]
    model = VisionEncoderDecoderModel(cfg)
    gen = model.generation_config
    gen.decoder_start_token_id, gen.pad_token_id, gen.eos_token_id = vocab["<s>"], vocab["[PAD]"], vocab["</s>"]
    gen.max_new_tokens, gen.min_new_tokens = 6, 2
    gen.suppress_tokens = [vocab["<s>"], vocab["[PAD]"]]  # random weights would repeat the start token
    model.save_pretrained(out)
    tok.save_pretrained(out)
    ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(out)
    return out


def depth_estimation(out: Path) -> Path:
    from transformers import DPTConfig, DPTForDepthEstimation, DPTImageProcessor

    cfg = DPTConfig(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=4, num_attention_heads=2,
                    intermediate_size=64, backbone_out_indices=[0, 1, 2, 3], neck_hidden_sizes=[8, 16, 32, 32],
                    fusion_hidden_size=16)
    DPTForDepthEstimation(cfg).save_pretrained(out)
    DPTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(out)
    return out


def audio_classification(out: Path) -> Path:
    from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2ForSequenceClassification

    cfg = Wav2Vec2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                         conv_dim=(16, 16), conv_stride=(5, 4), conv_kernel=(10, 4), num_conv_pos_embeddings=16,
                         num_conv_pos_embedding_groups=2, classifier_proj_size=16,
                         id2label={0: "speech", 1: "music"}, label2id={"speech": 0, "music": 1})
    Wav2Vec2ForSequenceClassification(cfg).save_pretrained(out)
    Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=16000, padding_value=0.0, do_normalize=True,
                             return_attention_mask=False).save_pretrained(out)
    return out


def visual_question_answering(out: Path) -> Path:
    import transformers
    from transformers import ViltConfig, ViltForQuestionAnswering, ViltImageProcessor, ViltProcessor

    # ViltProcessor insists on a BERT tokenizer class (transformers 5 folds the fast one into BertTokenizer).
    bert_cls: Any = getattr(transformers, "BertTokenizerFast", None) or transformers.BertTokenizer

    tok, vocab = _word_tokenizer()
    cfg = ViltConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=64, image_size=32, patch_size=8, max_position_embeddings=40,
                     id2label={0: "yes", 1: "no"}, label2id={"yes": 0, "no": 1})
    ViltForQuestionAnswering(cfg).save_pretrained(out)
    bert = bert_cls(tokenizer_object=tok.backend_tokenizer, unk_token="[UNK]", pad_token="[PAD]",
                             cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]")
    ViltProcessor(image_processor=ViltImageProcessor(size={"shortest_edge": 32}),
                  tokenizer=bert).save_pretrained(out)
    return out


def _clip_text(out: Path):  # type: ignore[no-untyped-def]
    """A CLIP tokenizer (letters as BPE symbols, no merges) and a 2-layer CLIP text encoder of width 32."""
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for c in "abcdefghijklmnopqrstuvwxyz":
        vocab[c], vocab[c + "</w>"] = len(vocab), len(vocab) + 1
    files = out / "_clip"
    files.mkdir(parents=True, exist_ok=True)
    (files / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    (files / "merges.txt").write_text("#version: 0.2\n", encoding="utf-8")
    tok = CLIPTokenizer(str(files / "vocab.json"), str(files / "merges.txt"), model_max_length=16)
    cfg = CLIPTextConfig(vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, max_position_embeddings=16, bos_token_id=0, eos_token_id=1,
                         pad_token_id=1)
    return tok, CLIPTextModel(cfg)


def _sd_parts(out: Path) -> dict[str, Any]:
    """Stable Diffusion components a few thousand parameters big (as diffusers' own pipeline tests build them):
    VAE scale factor 2, UNet sample size 32, so images are 64 px."""
    from diffusers import AutoencoderKL, DDIMScheduler

    tok, text_encoder = _clip_text(out)
    vae = AutoencoderKL(block_out_channels=(4, 8), in_channels=3, out_channels=3, latent_channels=4, norm_num_groups=2,
                        down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2)
    scheduler = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
                              set_alpha_to_one=False, steps_offset=1)
    return {"vae": vae, "text_encoder": text_encoder, "tokenizer": tok, "scheduler": scheduler}


_UNET = {"block_out_channels": (4, 8), "layers_per_block": 1, "in_channels": 4, "cross_attention_dim": 32,
         "norm_num_groups": 2, "down_block_types": ("DownBlock2D", "CrossAttnDownBlock2D")}


def stable_diffusion(out: Path) -> Path:
    """A StableDiffusionPipeline directory (model_index.json + components); also an image-to-image model."""
    import shutil

    from diffusers import StableDiffusionPipeline, UNet2DConditionModel

    unet = UNet2DConditionModel(sample_size=32, out_channels=4, up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
                                **_UNET)
    # Any: diffusers adds save_pretrained through mixins that mypy does not see.
    pipe: Any = StableDiffusionPipeline(unet=unet, safety_checker=None, feature_extractor=None,
                                        requires_safety_checker=False, **_sd_parts(out))
    pipe.save_pretrained(out)
    shutil.rmtree(out / "_clip")
    return out


def controlnet(out: Path) -> Path:
    """A ControlNetModel matching ``stable_diffusion`` (its base: same UNet widths, text width 32)."""
    from diffusers import ControlNetModel

    model: Any = ControlNetModel(conditioning_embedding_out_channels=(16, 32), **_UNET)
    model.save_pretrained(out)
    return out


def text_to_video(out: Path) -> Path:
    """A TextToVideoSDPipeline (damo-vilab/text-to-video-ms layout): a 3D UNet over the SD parts, 32 px frames."""
    import shutil

    from diffusers import TextToVideoSDPipeline, UNet3DConditionModel

    unet = UNet3DConditionModel(block_out_channels=(4, 8), layers_per_block=1, sample_size=16, in_channels=4,
                                out_channels=4, cross_attention_dim=32, attention_head_dim=4, norm_num_groups=2,
                                down_block_types=("CrossAttnDownBlock3D", "DownBlock3D"),
                                up_block_types=("UpBlock3D", "CrossAttnUpBlock3D"))
    pipe: Any = TextToVideoSDPipeline(unet=unet, **_sd_parts(out))
    pipe.save_pretrained(out)
    shutil.rmtree(out / "_clip")
    return out


BUILDERS: dict[str, Callable[[Path], Path]] = {
    "text-classification": text_classification,
    "token-classification": token_classification,
    "question-answering": question_answering,
    "summarization": summarization,
    "image-classification": image_classification,
    "object-detection": object_detection,
    "image-segmentation": image_segmentation,
    "automatic-speech-recognition": automatic_speech_recognition,
    "text-generation": text_generation,
    "conversational": text_generation,
    "zero-shot-classification": zero_shot_classification,
    "feature-extraction": feature_extraction,
    "sentence-similarity": feature_extraction,
    "image-to-text": image_to_text,
    "depth-estimation": depth_estimation,
    "audio-classification": audio_classification,
    "visual-question-answering": visual_question_answering,
    "text-to-image": stable_diffusion,  # diffusers (optional extra) from here on
    "image-to-image": stable_diffusion,
    "canny-text-to-image": controlnet,
    "text-to-video": text_to_video,
}


def build(task: str, root: Path) -> Path:
    """Build the tiny model for ``task`` under ``root/<task>`` (once) and return its directory."""
    out = root / task
    if not ((out / "config.json").is_file() or (out / "model_index.json").is_file()):
        BUILDERS[task](out)
    return out
