# Renders the tool-calling conversation of tool-conversation.json (tools, an assistant tool call whose arguments are an
# object, as Hugging Face passes them, and the tool's result) with Python's jinja2 set up as Hugging Face transformers
# sets it up (hf_jinja.py), passing messages, tools, add_generation_prompt = true, bos_token and eos_token.
# Writes expected-tools.json beside this script: {template name: {bos_token, eos_token, expected}}.
# Usage: python3 render-tools-with-jinja2.py SHARED_TEMPLATES_DIR
import json, os, sys
from hf_jinja import TOKENS, environment

folder = sys.argv[1]
here = os.path.dirname(os.path.abspath(__file__))
conversation = json.load(open(os.path.join(here, 'tool-conversation.json'), encoding='utf-8'))
env = environment()
# the templates that read `tools` and tool calls natively
native = ['Qwen-Qwen2.5-7B-Instruct', 'meta-llama-Llama-3.1-8B-Instruct', 'mistralai-Mistral-Nemo-Instruct-2407']
cases = {}
for name in native:
    bos, eos = TOKENS[name]
    template = env.from_string(open(os.path.join(folder, name + '.jinja'), encoding='utf-8').read())
    text = template.render(messages=conversation['messages'], tools=conversation['tools'], add_generation_prompt=True, bos_token=bos, eos_token=eos)
    cases[name] = {'bos_token': bos, 'eos_token': eos, 'expected': text}
json.dump(cases, open(os.path.join(here, 'expected-tools.json'), 'w', encoding='utf-8'), ensure_ascii=False, indent=1)
