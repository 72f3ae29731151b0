# Renders ../shared/templates/*.jinja with Python's jinja2 the way Hugging Face transformers does
# (ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks, loopcontrols, tojson, raise_exception) for the messages
# of ../shared/templates/conformance.json with add_generation_prompt = true; writes expected.json beside this script:
# {template name: {bos_token, eos_token, expected}}.
# Usage: python3 render-with-jinja2.py SHARED_TEMPLATES_DIR
import json, os, sys
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

folder = sys.argv[1]
here = os.path.dirname(os.path.abspath(__file__))
conformance = json.load(open(os.path.join(folder, 'conformance.json'), encoding='utf-8'))

def raise_exception(message):
    raise ValueError(message)

env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
env.filters['tojson'] = lambda x, indent=None, separators=None, sort_keys=False: json.dumps(x, ensure_ascii=False, indent=indent, separators=separators, sort_keys=sort_keys)
env.globals['raise_exception'] = raise_exception
# bos/eos as the models' tokenizers define them
tokens = {
    'HuggingFaceTB-SmolLM3-3B': ('', '<|im_end|>'),
    'Qwen-Qwen2.5-7B-Instruct': ('', '<|im_end|>'),
    'google-gemma-2-2b-it': ('<bos>', '<eos>'),
    'meta-llama-Llama-3.1-8B-Instruct': ('<|begin_of_text|>', '<|eot_id|>'),
    'microsoft-Phi-3.5-mini-instruct': ('<s>', '<|endoftext|>'),
    'mistralai-Mistral-Nemo-Instruct-2407': ('<s>', '</s>'),
}
cases = {}
for name, (bos, eos) in sorted(tokens.items()):
    template = env.from_string(open(os.path.join(folder, name + '.jinja'), encoding='utf-8').read())
    messages = conformance['messages']
    try:
        text = template.render(messages=messages, add_generation_prompt=True, bos_token=bos, eos_token=eos)
    except ValueError:
        # templates without a system role: merged into the first user message, as conformance.json's README says
        merged = [dict(messages[1], content=messages[0]['content'] + '\n' + messages[1]['content'])] + messages[2:]
        text = template.render(messages=merged, add_generation_prompt=True, bos_token=bos, eos_token=eos)
    cases[name] = {'bos_token': bos, 'eos_token': eos, 'expected': text}
json.dump(cases, open(os.path.join(here, 'expected.json'), 'w', encoding='utf-8'), ensure_ascii=False, indent=1)
