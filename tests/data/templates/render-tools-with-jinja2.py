# Renders the tool-calling conversation of tool-conversation.json (tools, an assistant tool call whose arguments are an
# object, as Hugging Face passes them, and the tool's result) with Python's jinja2 set up as Hugging Face transformers
# sets it up for apply_chat_template (ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, loopcontrols, tojson
# with indent, raise_exception), passing messages, tools, add_generation_prompt = true, bos_token and eos_token.
# Writes expected-tools.json beside this script: {template name: {bos_token, eos_token, expected}}.
# Usage: python3 render-tools-with-jinja2.py SHARED_TEMPLATES_DIR
import json, os, sys
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

folder = sys.argv[1]
here = os.path.dirname(os.path.abspath(__file__))
conversation = json.load(open(os.path.join(here, 'tool-conversation.json'), encoding='utf-8'))

def raise_exception(message):
    raise ValueError(message)

env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
env.filters['tojson'] = lambda x, indent=None, separators=None, sort_keys=False: json.dumps(x, ensure_ascii=False, indent=indent, separators=separators, sort_keys=sort_keys)
env.globals['raise_exception'] = raise_exception
# the templates that read `tools` and tool calls natively; bos/eos as the models' tokenizers define them
tokens = {
    'Qwen-Qwen2.5-7B-Instruct': ('', '<|im_end|>'),
    'meta-llama-Llama-3.1-8B-Instruct': ('<|begin_of_text|>', '<|eot_id|>'),
    'mistralai-Mistral-Nemo-Instruct-2407': ('<s>', '</s>'),
}
cases = {}
for name, (bos, eos) in sorted(tokens.items()):
    template = env.from_string(open(os.path.join(folder, name + '.jinja'), encoding='utf-8').read())
    text = template.render(messages=conversation['messages'], tools=conversation['tools'], add_generation_prompt=True, bos_token=bos, eos_token=eos)
    cases[name] = {'bos_token': bos, 'eos_token': eos, 'expected': text}
json.dump(cases, open(os.path.join(here, 'expected-tools.json'), 'w', encoding='utf-8'), ensure_ascii=False, indent=1)
