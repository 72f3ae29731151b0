# Renders ../shared/templates/*.jinja with Python's jinja2 the way Hugging Face transformers does (hf_jinja.py) for the messages
# of ../shared/templates/conformance.json with add_generation_prompt = true; writes expected.json beside this script:
# {template name: {bos_token, eos_token, expected}}.
# Usage: python3 render-with-jinja2.py SHARED_TEMPLATES_DIR
import json, os, sys
from hf_jinja import TOKENS, environment

folder = sys.argv[1]
here = os.path.dirname(os.path.abspath(__file__))
conformance = json.load(open(os.path.join(folder, 'conformance.json'), encoding='utf-8'))
env = environment()
cases = {}
for name, (bos, eos) in sorted(TOKENS.items()):
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
