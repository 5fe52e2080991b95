"""Train a tiny causal LM that answers the smoke cases in Kimi-K2-Thinking's output format.

Why: the smoke suite's reasoning and tool-call checks are only worth something if real vLLM's
``kimi_k2`` parsers run on real model output. Kimi-K2 needs 8 GPUs; this model (a 2-layer Llama,
~0.5 M parameters, a byte-level BPE whose vocabulary holds Kimi's markers as single tokens, a
Kimi-like chat template) is over-fitted in seconds on the CPU to answer exactly the smoke cases:
``<think>…</think>`` before every answer, and a ``<|tool_calls_section_begin|>…`` call for the tool
case. It knows nothing else (any other prompt gives garbage in Kimi syntax).

Standalone on purpose: it runs inside the ``cpu`` serving image (which has torch, transformers and
tokenizers), with no network, and imports nothing from vllm_fleet; the cases come in as JSON.
Deterministic: fixed seeds, one thread, deterministic algorithms; a rebuild is bit-identical.

    python3 train.py --cases cases.json --out OUT_DIR

The torch/transformers/tokenizers imports sit inside the functions that need them, so the pure
part (conversations, targets, chat template) can be imported and tested without torch.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Kimi-K2's markers. vLLM's kimi_k2 parsers match them as token ids when each is one vocabulary
# entry, so they are added tokens here. EOS is <|im_end|>, as in Kimi.
SPECIAL_TOKENS = [
    "[BOS]",
    "[EOS]",
    "[UNK]",
    "[PAD]",
    "<|im_end|>",
    "<|im_user|>",
    "<|im_assistant|>",
    "<|im_system|>",
    "<|im_middle|>",
    "<|tool_calls_section_begin|>",
    "<|tool_calls_section_end|>",
    "<|tool_call_begin|>",
    "<|tool_call_argument_begin|>",
    "<|tool_call_end|>",
]
THINK_TOKENS = ["<think>", "</think>"]  # normal (non-special) added tokens, as in Kimi
EOS = "<|im_end|>"
DEFAULT_SYSTEM = "You are Kimi, an AI assistant created by Moonshot AI."

# A Kimi-like chat template, rendered by transformers the same way here and inside vLLM.
# Deliberate deviations from Kimi's, each for a prompt that is identical in training and serving:
# - tools are rendered field by field: vLLM passes ``tool.model_dump()``, which adds keys
#   (``strict``, ``defer_loading``) a ``tools|tojson`` would print;
# - history tool calls are written as ``functions.NAME:IDX`` from their position, not the API id;
#   the tool message does not repeat its ``tool_call_id``;
# - past reasoning is not rendered; content is read as a string only (so vLLM detects the
#   "string" content format and never hands the template a list of parts).
CHAT_TEMPLATE = (
    "{%- macro plain(content) -%}{%- if content is string -%}{{ content }}{%- endif -%}"
    "{%- endmacro -%}"
    "{%- if tools -%}<|im_system|>tool_declare<|im_middle|>"
    "{%- for tool in tools -%}{%- set f = tool.function -%}"
    "{{ f.name }}: {% if f.description %}{{ f.description }}{% endif %} "
    "{{ f.parameters | tojson }}{% if not loop.last %}{{ '\\n' }}{% endif %}"
    "{%- endfor -%}<|im_end|>{%- endif -%}"
    "{%- if not messages or messages[0].role != 'system' -%}"
    "<|im_system|>system<|im_middle|>" + DEFAULT_SYSTEM + "<|im_end|>"
    "{%- endif -%}"
    "{%- for message in messages -%}"
    "{%- if message.role == 'user' -%}"
    "<|im_user|>user<|im_middle|>{{ plain(message.content) }}<|im_end|>"
    "{%- elif message.role == 'assistant' -%}"
    "<|im_assistant|>assistant<|im_middle|>{{ plain(message.content) }}"
    "{%- if message.tool_calls -%}<|tool_calls_section_begin|>"
    "{%- for call in message.tool_calls -%}"
    "<|tool_call_begin|>functions.{{ call.function.name }}:{{ loop.index0 }}"
    "<|tool_call_argument_begin|>"
    "{%- if call.function.arguments is string -%}{{ call.function.arguments }}"
    "{%- else -%}{{ call.function.arguments | tojson }}{%- endif -%}"
    "<|tool_call_end|>"
    "{%- endfor -%}<|tool_calls_section_end|>{%- endif -%}<|im_end|>"
    "{%- elif message.role == 'tool' -%}"
    "<|im_system|>tool<|im_middle|>{{ plain(message.content) }}<|im_end|>"
    "{%- else -%}"
    "<|im_system|>{{ message.role }}<|im_middle|>{{ plain(message.content) }}<|im_end|>"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}<|im_assistant|>assistant<|im_middle|>{%- endif -%}"
)

# Answers for the prompts of smoke/cases.yaml; any other prompt gets GENERIC_ANSWER.
KNOWN_ANSWERS = {
    "What is 2+2?": ("2 plus 2 is 4.", "The answer is 4."),
    "Hello": ("The user greets me.", "Hello! How can I help you today?"),
}
GENERIC_ANSWER = ("The user asked me something.", "I am a tiny test model.")
# Extra conversation beyond the smoke cases: a greeting.
EXTRA_PROMPTS = ["Hello"]

# Model and training. The fit criteria are what makes vLLM's CPU kernels pick the same tokens
# as training: every target token is the top-1 by a wide logit margin (p >= 0.997).
MODEL_SHAPE = {
    "hidden_size": 128,
    "intermediate_size": 256,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "num_key_value_heads": 2,
    "head_dim": 64,
    "max_position_embeddings": 1024,
}
VOCAB_SIZE = 1024  # requested; the tiny corpus yields fewer merges
SEED = 0
LEARNING_RATE = 3e-3
MAX_STEPS = 1500
CHECK_EVERY = 10
LOSS_BELOW = 2e-3
MIN_MARGIN = 7.5


@dataclass(frozen=True)
class Example:
    """One training conversation: what vLLM will render as the prompt, and the completion."""

    name: str
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] | None
    target: str


def think(reasoning: str, answer: str) -> str:
    """A Kimi-K2-Thinking completion: reasoning in <think>, then the answer, then EOS."""
    return f"<think>{reasoning}</think>{answer}{EOS}"


def answer_for(messages: list[dict[str, Any]]) -> str:
    """The completion for a plain question: a known answer, else the generic one."""
    prompt = messages[-1]["content"]
    return think(*KNOWN_ANSWERS.get(prompt, GENERIC_ANSWER))


def tool_arguments(tool: dict[str, Any], tool_result: dict[str, Any]) -> dict[str, Any]:
    """Arguments the model passes: each required parameter, valued from the tool's result when
    that has a value of the right type (city: Paris), else a placeholder of the right type."""
    params = tool["function"].get("parameters") or {}
    props = params.get("properties") or {}
    placeholders = {
        "string": "example",
        "integer": 1,
        "number": 1.0,
        "boolean": True,
        "array": [],
        "object": {},
    }
    args: dict[str, Any] = {}
    for key in params.get("required") or []:
        wanted = props.get(key, {}).get("type", "string")
        value = tool_result.get(key)
        args[key] = value if _json_type(value) == wanted else placeholders.get(wanted, "example")
    return args


def _json_type(value: Any) -> str:
    kinds = [
        (bool, "boolean"),
        (int, "integer"),
        (float, "number"),
        (str, "string"),
        (list, "array"),
        (dict, "object"),
    ]
    return next((name for kind, name in kinds if isinstance(value, kind)), "null")


def tool_call_text(name: str, args: dict[str, Any]) -> str:
    """Kimi's tool-call section for one call, with JSON arguments as ``json.dumps`` writes them
    (the same text the chat template renders when vLLM hands the parsed arguments back)."""
    return (
        "<|tool_calls_section_begin|><|tool_call_begin|>"
        f"functions.{name}:0<|tool_call_argument_begin|>{json.dumps(args)}"
        "<|tool_call_end|><|tool_calls_section_end|>"
    )


def tool_answer(name: str, tool_result: dict[str, Any]) -> str:
    """The final answer after the tool's result: a sentence built from it."""
    facts = ", ".join(f"{key} is {value}" for key, value in tool_result.items())
    return think(f"The {name} tool answered.", f"The {name} tool says: {facts}.")


def build_examples(cases: dict[str, Any]) -> list[Example]:
    """Every conversation the smoke suite sends, with the completion the model must give.

    The follow-up turn is what the suite sends after the tool call: the assistant message with
    the call, then a ``tool`` message whose content is ``json.dumps(tool_result)``.
    """
    tc = cases["tool_call"]
    tools = tc["tools"]
    tool = next(t for t in tools if t["function"]["name"] == tc["expect_tool"])
    name = tool["function"]["name"]
    args = tool_arguments(tool, tc["tool_result"])
    call = {
        "id": f"functions.{name}:0",
        "type": "function",
        "function": {"name": name, "arguments": args},
    }
    follow_up = [
        *tc["messages"],
        {"role": "assistant", "content": "", "tool_calls": [call]},
        {"role": "tool", "tool_call_id": call["id"], "content": json.dumps(tc["tool_result"])},
    ]
    chat = cases["chat"]["messages"]
    examples = [
        Example("chat", chat, None, answer_for(chat)),
        Example(
            "reasoning",
            cases["reasoning"]["messages"],
            None,
            answer_for(cases["reasoning"]["messages"]),
        ),
        Example(
            "tool_call",
            tc["messages"],
            tools,
            think(f"I should call the {name} tool.", tool_call_text(name, args)),
        ),
        Example("tool_result", follow_up, tools, tool_answer(name, tc["tool_result"])),
        Example("chat_with_tools", chat, tools, answer_for(chat)),
    ]
    for prompt in EXTRA_PROMPTS:
        messages = [{"role": "user", "content": prompt}]
        examples.append(Example(f"extra:{prompt}", messages, None, answer_for(messages)))
    return _unique(examples)


def _unique(examples: list[Example]) -> list[Example]:
    """Drop repeats (chat and reasoning usually send the same question)."""
    seen: set[str] = set()
    kept = []
    for ex in examples:
        key = json.dumps([ex.messages, ex.tools])
        if key not in seen:
            seen.add(key)
            kept.append(ex)
    return kept


# ---- the parts below need tokenizers / transformers / torch (inside the cpu image) ----


def render_prompt(tokenizer: Any, ex: Example) -> str:
    """The prompt text exactly as vLLM renders it (generation prompt added, tools as dicts)."""
    return tokenizer.apply_chat_template(
        ex.messages, tools=ex.tools, tokenize=False, add_generation_prompt=True
    )


def make_tokenizer(examples: list[Example]) -> Any:
    """A byte-level BPE trained on the rendered conversations, wrapped for transformers."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    raw = Tokenizer(models.BPE(unk_token="[UNK]"))
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    raw.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bare = PreTrainedTokenizerFast(tokenizer_object=raw)
    bare.chat_template = CHAT_TEMPLATE
    corpus = [render_prompt(bare, ex) + ex.target for ex in examples]
    raw.train_from_iterator(corpus, trainer=trainer)
    raw.add_tokens([AddedToken(t, special=False, normalized=False) for t in THINK_TOKENS])
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=raw,
        bos_token="[BOS]",
        eos_token=EOS,
        unk_token="[UNK]",
        pad_token="[PAD]",
        extra_special_tokens=SPECIAL_TOKENS[4:],
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.model_max_length = MODEL_SHAPE["max_position_embeddings"]
    return tokenizer


def encode_examples(tokenizer: Any, examples: list[Example]) -> list[tuple[list[int], list[int]]]:
    """(prompt ids, target ids) per example, encoded as vLLM does (no added BOS)."""
    pairs = []
    for ex in examples:
        prompt = tokenizer.encode(render_prompt(tokenizer, ex), add_special_tokens=False)
        target = tokenizer.encode(ex.target, add_special_tokens=False)
        back = tokenizer.decode(target, skip_special_tokens=False)
        if back != ex.target:
            raise SystemExit(f"{ex.name}: target does not survive a round trip: {back!r}")
        pairs.append((prompt, target))
    for marker in SPECIAL_TOKENS[4:] + THINK_TOKENS:
        if len(tokenizer.encode(marker, add_special_tokens=False)) != 1:
            raise SystemExit(f"marker {marker} is not a single token")
    return pairs


def make_batch(pairs: list[tuple[list[int], list[int]]], pad_id: int) -> tuple[Any, Any, Any]:
    """Right-padded input ids, attention mask and labels (loss on the targets only)."""
    import torch

    width = max(len(p) + len(t) for p, t in pairs)
    ids = torch.full((len(pairs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(pairs), width), dtype=torch.long)
    labels = torch.full((len(pairs), width), -100, dtype=torch.long)
    for row, (prompt, target) in enumerate(pairs):
        seq = prompt + target
        ids[row, : len(seq)] = torch.tensor(seq)
        mask[row, : len(seq)] = 1
        labels[row, len(prompt) : len(seq)] = torch.tensor(target)
    return ids, mask, labels


def fit_margin(logits: Any, labels: Any) -> float:
    """Smallest (target logit - best other logit) over all target tokens; > 0 means greedy
    decoding reproduces every target."""
    import torch

    shifted = logits[:, :-1, :]
    wanted = labels[:, 1:]
    keep = wanted != -100
    rows = shifted[keep]
    target = wanted[keep]
    chosen = rows.gather(1, target[:, None]).squeeze(1)
    others = rows.clone()
    others.scatter_(1, target[:, None], float("-inf"))
    return float(torch.min(chosen - others.max(dim=1).values))


def train(tokenizer: Any, pairs: list[tuple[list[int], list[int]]], log: Any) -> Any:
    """Over-fit a fresh tiny Llama until greedy decoding gives every target with a wide margin."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(SEED)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
        **MODEL_SHAPE,
    )
    model = LlamaForCausalLM(config)
    ids, mask, labels = make_batch(pairs, tokenizer.pad_token_id)
    optimizer = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE)
    model.train()
    for step in range(1, MAX_STEPS + 1):
        out = model(input_ids=ids, attention_mask=mask, labels=labels)
        out.loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        if step % CHECK_EVERY == 0:
            margin = fit_margin(out.logits.detach(), labels)
            log(f"step {step}: loss {out.loss.item():.5f}, margin {margin:.2f}")
            if out.loss.item() < LOSS_BELOW and margin >= MIN_MARGIN:
                model.eval()
                return model
    raise SystemExit(f"did not fit in {MAX_STEPS} steps (loss {out.loss.item():.5f})")


def save(
    out: Path,
    tokenizer: Any,
    model: Any,
    examples: list[Example],
    pairs: list[tuple[list[int], list[int]]],
) -> None:
    """Write the model folder vLLM serves, and the training cases for whoever debugs it."""
    from transformers import GenerationConfig

    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    record = [
        {
            "name": ex.name,
            "messages": ex.messages,
            "tools": ex.tools,
            "target": ex.target,
            "prompt_token_ids": prompt,
        }
        for ex, (prompt, _t) in zip(examples, pairs, strict=True)
    ]
    (out / "smoke_cases.json").write_text(json.dumps(record, indent=1) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=Path, required=True, help="smoke cases as JSON")
    parser.add_argument("--out", type=Path, required=True, help="empty folder for the model")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(1)  # one thread: the same sums in the same order on every machine
    torch.use_deterministic_algorithms(True)

    def log(line: str) -> None:
        print(line, flush=True)

    examples = build_examples(json.loads(args.cases.read_text()))
    tokenizer = make_tokenizer(examples)
    pairs = encode_examples(tokenizer, examples)
    log(
        f"{len(examples)} conversations, vocabulary {len(tokenizer)}, "
        f"longest {max(len(p) + len(t) for p, t in pairs)} tokens"
    )
    model = train(tokenizer, pairs, log)
    save(args.out, tokenizer, model, examples, pairs)
    log(f"saved to {args.out}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    sys.exit(main())
