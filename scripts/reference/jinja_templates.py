"""Chat templates rendered by Python's jinja2 the way transformers renders them
(trim_blocks, lstrip_blocks, the loopcontrols extension, raise_exception, and its tojson:
json.dumps without key sorting or HTML escaping).

The templates below exercise what Hugging Face chat templates use: loop variables and
controls, namespaces, string methods (strip, startswith, upper…), tojson, raise_exception,
whitespace control. Writes crates/tl-llm/tests/data/jinja/templates.json with each template,
its inputs and jinja2's output (or the exception message).

Run: . .venv/bin/activate && pip install jinja2==3.1.6 && python scripts/reference/jinja_templates.py
"""

import json
from pathlib import Path

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "crates" / "tl-llm" / "tests" / "data" / "jinja" / "templates.json"

TEMPLATES = {
    "llama3_style": (
        "{{ bos_token }}{% for message in messages %}"
        "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' + message['content'] | trim + '<|eot_id|>' %}"
        "{{ content }}{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
    ),
    "mistral_style_alternation": (
        "{{ bos_token }}{% for message in messages %}"
        "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
        "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}"
        "{% endif %}"
        "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
        "{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token }}"
        "{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}"
        "{% endfor %}"
    ),
    "zephyr_style_blocks": """{% for message in messages %}
{% if message['role'] == 'user' %}
{{ '<|user|>\n' + message['content'] + eos_token }}
{% elif message['role'] == 'system' %}
{{ '<|system|>\n' + message['content'] + eos_token }}
{% elif message['role'] == 'assistant' %}
{{ '<|assistant|>\n'  + message['content'] + eos_token }}
{% endif %}
{% if loop.last and add_generation_prompt %}
{{ '<|assistant|>' }}
{% endif %}
{% endfor %}""",
    "python_methods_and_filters": (
        "{% set ns = namespace(system='') %}"
        "{% for m in messages %}{% if m.role == 'system' %}{% set ns.system = m.content.strip() %}{% continue %}{% endif %}"
        "{% if m.content.startswith('!') %}{% break %}{% endif %}"
        "[{{ loop.index }}/{{ loop.length }} {{ m.role.upper() }}|{{ m.content.replace('a', 'A') }}|{{ m.content | length }}]"
        "{% endfor %}"
        "SYS={{ ns.system }};JSON={{ messages[0] | tojson }};PRETTY={{ {'a': [1, 2.5, none, true], 'b': {}, 'c': '<&>'} | tojson(indent=2) }};"
        "{{ 'x,y,z'.split(',') | join('+') }};{{ messages | selectattr('role', 'equalto', 'user') | list | length }}"
    ),
    "generation_prompt_flag": (
        "{% for m in messages %}<{{ m.role }}>{{ m.content }}</{{ m.role }}>\n{% endfor %}"
        "{%- if add_generation_prompt %}<assistant>{% endif -%}"
    ),
}

CASES = [
    ("llama3_style", [{"role": "system", "content": "  Be brief.  "}, {"role": "user", "content": "Hi"}], True),
    ("llama3_style", [{"role": "user", "content": "Hello"}], False),
    ("mistral_style_alternation", [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}, {"role": "user", "content": "Bye"}], True),
    ("mistral_style_alternation", [{"role": "user", "content": "Hi"}, {"role": "user", "content": "again"}], True),
    ("zephyr_style_blocks", [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}], True),
    ("zephyr_style_blocks", [{"role": "user", "content": "U"}, {"role": "assistant", "content": "A"}], False),
    ("python_methods_and_filters", [{"role": "system", "content": "  sys prompt \n"}, {"role": "user", "content": "banana"}, {"role": "assistant", "content": "a \"quoted\" reply"}, {"role": "user", "content": "!stop"}, {"role": "user", "content": "never"}], True),
    ("generation_prompt_flag", [{"role": "user", "content": "é ü 日本"}], True),
    ("generation_prompt_flag", [{"role": "user", "content": "x"}], False),
]


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    # transformers replaces jinja2's HTML-safe, key-sorting tojson with plain json.dumps.
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def main():
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"])
    env.globals["raise_exception"] = raise_exception
    env.filters["tojson"] = tojson
    out = []
    for name, messages, add_generation_prompt in CASES:
        template = env.from_string(TEMPLATES[name])
        case = {"template_name": name, "messages": messages, "add_generation_prompt": add_generation_prompt,
                "bos_token": "<s>", "eos_token": "</s>"}
        try:
            case["rendered"] = template.render(messages=messages, add_generation_prompt=add_generation_prompt,
                                               bos_token="<s>", eos_token="</s>")
        except jinja2.exceptions.TemplateError as e:
            case["error"] = str(e)
        out.append(case)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({"jinja2": jinja2.__version__, "templates": TEMPLATES, "cases": out}, ensure_ascii=False, indent=1))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
