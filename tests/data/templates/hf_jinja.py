# Python's jinja2 set up as Hugging Face transformers sets it up for apply_chat_template (ImmutableSandboxedEnvironment,
# trim_blocks, lstrip_blocks, loopcontrols, tojson with indent, raise_exception), and the bos/eos tokens of the models
# whose templates ../shared/templates holds, as their tokenizers define them. Shared by the render-*.py scripts here.
import json
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

TOKENS = {
    'HuggingFaceTB-SmolLM3-3B': ('', '<|im_end|>'),
    'Qwen-Qwen2.5-7B-Instruct': ('', '<|im_end|>'),
    'google-gemma-2-2b-it': ('<bos>', '<eos>'),
    'meta-llama-Llama-3.1-8B-Instruct': ('<|begin_of_text|>', '<|eot_id|>'),
    'microsoft-Phi-3.5-mini-instruct': ('<s>', '<|endoftext|>'),
    'mistralai-Mistral-Nemo-Instruct-2407': ('<s>', '</s>'),
}


def _raise_exception(message):
    raise ValueError(message)


def environment():
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    env.filters['tojson'] = lambda x, indent=None, separators=None, sort_keys=False: json.dumps(x, ensure_ascii=False, indent=indent, separators=separators, sort_keys=sort_keys)
    env.globals['raise_exception'] = _raise_exception
    return env
