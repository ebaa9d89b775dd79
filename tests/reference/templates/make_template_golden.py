#!/usr/bin/env python3
# Writes golden.json: what Python jinja2 renders for each committed chat
# template (*.jinja here) and for the small feature templates below, with the
# environment Hugging Face transformers uses for `apply_chat_template`.
# Run with the reference venv (jinja2 3.1.x):
#   /root/.cache/engram-desktop/refenv/bin/python make_template_golden.py
import json
import os
from datetime import datetime

import jinja2
from jinja2 import nodes
from jinja2.ext import Extension, loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

class RaisedByTemplate(jinja2.exceptions.TemplateError):
    """What the template's own raise_exception() threw (the C++ side must
    report the same message), as opposed to a jinja2 runtime error."""


HERE = os.path.dirname(os.path.abspath(__file__))
# strftime_now() in every golden render returns this moment, and the C++ test
# injects the same one.
FIXED_NOW = datetime(2025, 3, 7, 14, 5, 9)


class GenerationBlock(Extension):
    # transformers' AssistantTracker: {% generation %}...{% endgeneration %}
    # renders its body unchanged (it only records where the body landed).
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return nodes.CallBlock(self.call_method("_body"), [], [], body).set_lineno(lineno)

    def _body(self, caller):
        return caller()


def make_env():
    # As transformers.utils.chat_template_utils._compile_jinja_template does.
    def raise_exception(message):
        raise RaisedByTemplate(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        # transformers' own tojson: no HTML escaping, unlike jinja2's.
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(fmt):
        return FIXED_NOW.strftime(fmt)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[GenerationBlock, loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def msgs(*pairs):
    return [{"role": r, "content": c} for r, c in pairs]


MESSAGE_SETS = {
    "user": msgs(("user", "Hello!")),
    "system_user": msgs(("system", "You are a terse assistant."), ("user", "What is 2+2?")),
    "multi_turn": msgs(
        ("user", "Hi there"),
        ("assistant", "Hello! How can I help?"),
        ("user", "Tell me a joke."),
    ),
    "system_multi_turn": msgs(
        ("system", "  Be kind.  \n"),
        ("user", "Name a colour."),
        ("assistant", "Blue."),
        ("user", "Another one?"),
        ("assistant", "Green."),
    ),
    "unicode": msgs(
        ("user", "Grüße 👋🏽 — «naïve» café\nline two\ttab {{ not a tag }} {% nor this %}"),
        ("assistant", "  日本語で答えます。\n\n\"quoted\" and 'single' \\ backslash  "),
        ("user", "Ελληνικά? ✓"),
    ),
    "thinking": msgs(
        ("user", "What is 3*7?"),
        ("assistant", "<think>\n3 times 7 is 21.\n</think>\n\nIt is 21."),
        ("user", "And 3*8?"),
    ),
    "bad_alternation": msgs(("user", "one"), ("user", "two")),
    "empty": [],
    "tool_call": [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "call12345", "type": "function",
             "function": {"name": "get_weather", "arguments": {"city": "Paris", "unit": "°C"}}}]},
        {"role": "tool", "tool_call_id": "call12345", "content": "{\"temp_c\": 18}"},
        {"role": "assistant", "content": "It is 18 °C."},
        {"role": "user", "content": "Thanks!"},
    ],
}

# The harmony format's own inputs (openai/gpt-oss): a developer message, an
# assistant's `thinking` (rendered as the analysis channel only where the
# template keeps it), and the template's kwargs. Rendered for HARMONY_TEMPLATES
# only, through ChatTemplate::render_context on the C++ side.
HARMONY_SETS = {
    "harmony_developer_thinking": [
        {"role": "developer", "content": "Answer in one word."},
        {"role": "user", "content": "Name a colour."},
        {"role": "assistant", "thinking": "Any colour will do.", "content": "Blue."},
        {"role": "user", "content": "Another one?"},
        {"role": "assistant", "thinking": "Not blue again.", "content": "Green."},
    ],
    "harmony_builtin_tools": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Look up the weather in Zürich."},
    ],
}
HARMONY_EXTRA = {
    "harmony_developer_thinking": {},
    "harmony_builtin_tools": {"reasoning_effort": "low", "model_identity": "You are a tiny test model.",
                              "builtin_tools": ["browser", "python"]},
}
HARMONY_TEMPLATES = ["openai-gpt-oss-120b"]

TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "Get the weather <now> & \"here\"",
    "parameters": {"type": "object", "properties": {"city": {"type": "string", "description": "City name"},
                                                    "unit": {"type": "string", "enum": ["°C", "°F"]}},
                   "required": ["city"]}}}]
# Templates that take `tools` and tool-call messages get the tool_call set
# with tools passed, through ChatTemplate::render_context on the C++ side.
TOOL_TEMPLATES = [
    "Qwen-Qwen2.5-7B-Instruct", "Qwen-Qwen3-0.6B", "meta-llama-Llama-3.1-8B-Instruct",
    "meta-llama-Llama-3.2-3B-Instruct", "mistralai-Mistral-Nemo-Instruct-2407",
    "Mistral-Small-3.2-24B-Instruct-2506", "ibm-granite-granite-3.3-2B-Instruct",
    "NousResearch-Hermes-3-Llama-3.1-8B-tool_use", "openai-gpt-oss-120b", "moonshotai-Kimi-K2",
]

# bos/eos as each model's GGUF carries them (any strings would do).
TOKENS = {
    "HuggingFaceTB-SmolLM2-135M-Instruct": ("<|im_start|>", "<|im_end|>"),
    "TinyLlama-TinyLlama-1.1B-Chat-v1.0": ("<s>", "</s>"),
    "Qwen-Qwen2.5-7B-Instruct": ("", "<|im_end|>"),
    "Qwen-Qwen3-0.6B": ("", "<|im_end|>"),
    "meta-llama-Llama-3.1-8B-Instruct": ("<|begin_of_text|>", "<|eot_id|>"),
    "meta-llama-Llama-3.2-3B-Instruct": ("<|begin_of_text|>", "<|eot_id|>"),
    "mistralai-Mistral-Nemo-Instruct-2407": ("<s>", "</s>"),
    "Mistral-Small-3.2-24B-Instruct-2506": ("<s>", "</s>"),
    "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B": ("<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>"),
    "microsoft-Phi-3.5-mini-instruct": ("<s>", "<|endoftext|>"),
    "google-gemma-2-2b-it": ("<bos>", "<eos>"),
    "ibm-granite-granite-3.3-2B-Instruct": ("", "<|end_of_text|>"),
    "NousResearch-Hermes-3-Llama-3.1-8B-tool_use": ("<|begin_of_text|>", "<|im_end|>"),
    "openai-gpt-oss-120b": ("<|startoftext|>", "<|return|>"),
    "moonshotai-Kimi-K2": ("[BOS]", "[EOS]"),
}

# Small templates that pin down one feature each; rendered with `vars` as the
# whole context.
FEATURES = [
    ("trim_blocks", "{% if true %}\nA\n{% endif %}\nB\n", {}),
    ("lstrip_blocks", "  {% if true %}\n    x\n  {% endif %}\n  {{ 'y' }}\n", {}),
    ("plus_disables", "  {%+ if true +%}\nA\n{% endif %}", {}),
    ("minus_strips", "a  \n  {%- if true -%}  \n b \n {{- 'c' -}} \n d {#- c -#}  e {% endif %} f", {}),
    ("comment_trim", "x\n  {# note #}\ny {#- z #}\n", {}),
    ("trailing_newline_kept_once", "abc\n\n", {}),
    ("var_no_trim", "{{ 'a' }}\nb", {}),
    ("literals", "{{ [1, 2.5, 'x', true, none, [], {}] }}|{{ {'a': 1, 'b': [None, False]} }}|{{ (1, 'a') }}|{{ 1e3 }}|{{ 0.1 + 0.2 }}|{{ 10 / 4 }}|{{ 7 // 2 }}|{{ -7 // 2 }}|{{ -7 % 3 }}|{{ 2 ** 10 }}|{{ 1_000 }}", {}),
    ("string_escapes", r"""{{ 'it\'s' }}|{{ "tab\there" }}|{{ 'nl\nx' }}|{{ "q\"q" }}|{{ 'a' 'b' }}|{{ '\\' }}|{{ "it's" ~ '"' }}|{{ ['it\'s', "x\"y", 'a\nb'] }}""", {}),
    ("arith_concat", "{{ 1 + 2 * 3 - 4 }}|{{ 'a' ~ 1 ~ none ~ true }}|{{ 'ab' * 3 }}|{{ [1] + [2, 3] }}|{{ -3 + +2 }}|{{ 2.0 * 3 }}|{{ 1 / 3 }}|{{ 1e20 * 10 }}|{{ 1.5e-7 }}|{{ 3 % 2 == 1 }}", {}),
    ("compare_logic", "{{ 1 < 2 < 3 }}|{{ 'a' < 'b' }}|{{ 1 == 1.0 }}|{{ 'a' != 'a' }}|{{ not 0 }}|{{ 0 or 'x' }}|{{ '' and 1 }}|{{ none or [] }}|{{ 1 and 2 }}|{{ 'b' in 'abc' }}|{{ 2 not in [1, 2] }}|{{ 'k' in {'k': 1} }}|{{ [1,2] == [1,2] }}", {}),
    ("ternary", "{{ 'yes' if x else 'no' }}|{{ 'yes' if y else 'no' }}|{{ 'only' if y }}|{{ x if x > 1 else -x }}", {"x": 3, "y": 0}),
    ("tests", "{{ x is defined }}|{{ nope is defined }}|{{ nope is undefined }}|{{ n is none }}|{{ s is string }}|{{ x is number }}|{{ d is mapping }}|{{ l is iterable }}|{{ s is iterable }}|{{ x is integer }}|{{ f is float }}|{{ x is odd }}|{{ x is even }}|{{ x is divisibleby 3 }}|{{ x is divisibleby(2) }}|{{ b is boolean }}|{{ b is true }}|{{ b is false }}|{{ l is sequence }}|{{ s is lower }}|{{ x is not none }}|{{ s is eq 'hi' }}|{{ x is gt(2) }}|{{ 1 is in [1] }}|{{ true is number }}", {"x": 3, "n": None, "s": "hi", "d": {"a": 1}, "l": [1], "f": 1.5, "b": True}),
    ("attr_item", "{{ d.a }}|{{ d['a'] }}|{{ d.missing }}|{{ l[0] }}|{{ l[-1] }}|{{ l[5] }}|{{ s[1] }}|{{ d.get('a') }}|{{ d.get('zz', 'dflt') }}|{{ d.get('zz') }}|{{ l.0 }}", {"d": {"a": 1}, "l": [1, 2, 3], "s": "héllo"}),
    ("slicing", "{{ l[1:] }}|{{ l[:-1] }}|{{ l[::-1] }}|{{ l[::2] }}|{{ s[1:3] }}|{{ s[::-1] }}|{{ l[10:] }}|{{ l[-2:] }}|{{ s[:-1] }}", {"l": [1, 2, 3, 4], "s": "héllo✓"}),
    ("for_loop", "{% for x in l %}{{ loop.index }}/{{ loop.index0 }}/{{ loop.first }}/{{ loop.last }}/{{ loop.length }}/{{ loop.revindex }}/{{ loop.revindex0 }}:{{ x }};{% endfor %}", {"l": ["a", "b", "c"]}),
    ("for_else", "{% for x in l %}{{ x }}{% else %}empty{% endfor %}|{% for x in [1,2,3] if x != 2 %}{{ x }}{{ loop.length }}{% endfor %}", {"l": []}),
    ("for_items", "{% for k, v in d.items() %}{{ k }}={{ v }},{% endfor %}|{% for k, v in d|items %}{{ k }}{% endfor %}|{% for k in d %}{{ k }}{% endfor %}|{% for a, b in [[1, 2], [3, 4]] %}{{ a + b }}{% endfor %}", {"d": {"z": 1, "a": 2}}),
    ("loop_prev_next_cycle", "{% for x in [1,2,3] %}{{ loop.previtem is defined }}{{ loop.nextitem }}{{ loop.cycle('a','b') }}{% endfor %}", {}),
    ("loop_controls", "{% for x in range(10) %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 5 %}{% break %}{% endif %}{{ x }}{% endfor %}|{{ range(3) | list }}|{{ range(1, 10, 3) | list }}", {}),
    ("scoping", "{% set a = 1 %}{% for x in [1] %}{% set a = 2 %}{{ a }}{% endfor %}{{ a }}{% if true %}{% set a = 3 %}{% endif %}{{ a }}", {}),
    ("namespace", "{% set ns = namespace(count=0, found=false) %}{% for x in [1, 2, 3] %}{% set ns.count = ns.count + x %}{% if x == 2 %}{% set ns.found = true %}{% endif %}{% endfor %}{{ ns.count }} {{ ns.found }}{% set ns2 = namespace() %}{% set ns2.v = 'x' %}{{ ns2.v }}", {}),
    ("set_block_and_tuple", "{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set t %}in {{ a }} block{% endset %}[{{ t }}]", {}),
    ("filters_string", "{{ '  x y  ' | trim }}|{{ 'xxhixx' | trim('x') }}|{{ 'Hello' | upper }}|{{ 'HeLLo' | lower }}|{{ 'hello wORLD-foo (bar' | title }}|{{ 'hELLO world' | capitalize }}|{{ 'a-b-c' | replace('-', '+') }}|{{ 'aaa' | replace('a', 'b', 2) }}|{{ 'héllo' | length }}|{{ 'abc' | first }}|{{ 'abc' | last }}|{{ 'abc' | list }}|{{ 'abc' | reverse }}|{{ 42 | string }}|{{ '42' | int + 1 }}|{{ 'x' | int }}|{{ '3.7' | float }}|{{ 3.7 | int }}|{{ 'ab' | center(6) }}|{{ 'a b' | wordcount }}", {}),
    ("filters_list", "{{ l | length }}|{{ l | first }}|{{ l | last }}|{{ l | join(', ') }}|{{ l | join }}|{{ l | reverse | list }}|{{ [3, 1, 3, 2] | unique | list }}|{{ [3, 1, 2] | sort }}|{{ l | map('upper') | join }}|{{ [1, 2, 3] | sum }}|{{ [1, 5, 3] | max }}|{{ [1, 5, 3] | min }}|{{ l | count }}|{{ l | select('ne', 'b') | list }}|{{ l | reject('equalto', 'b') | list }}|{{ [none, 0, 1, ''] | select | list }}", {"l": ["a", "b", "c"]}),
    ("filters_attr", "{{ m | selectattr('role', 'equalto', 'user') | map(attribute='content') | join('+') }}|{{ m | rejectattr('role', 'eq', 'user') | list | length }}|{{ m | selectattr('tool') | list }}|{{ m | map(attribute='role') | unique | list }}|{{ m | first | items | list }}|{{ {'b': 1, 'a': 2} | dictsort }}|{{ m | map(attribute='missing', default='d') | list }}", {"m": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b", "tool": 1}, {"role": "user", "content": "c"}]}),
    ("filters_default", "{{ nope | default('d') }}|{{ none | default('d') }}|{{ '' | default('d', true) }}|{{ '' | d('e', boolean=true) }}|{{ 0 | default(5) }}|{{ nope | length }}|{{ nope | trim }}|{{ nope }}|{{ x | abs }}|{{ 2.567 | round(2) }}|{{ 2.5 | round }}|{{ 7 | round(method='floor') }}", {"x": -4}),
    ("tojson", "{{ d | tojson }}|{{ d | tojson(indent=2) }}|{{ 'é<>&\\'\"\\n' | tojson }}|{{ [1.0, 2.5, 1e-7, 1e22, none, true] | tojson }}|{{ {} | tojson(indent=4) }}|{{ [] | tojson(indent=4) }}|{{ d | tojson(separators=(',', ':')) }}|{{ 'x' | tojson(ensure_ascii=true) }}|{{ 'ü😀' | tojson(ensure_ascii=true) }}", {"d": {"name": "get_weather", "params": {"city": "Zürich", "n": [1, 2], "e": {}, "l": []}, "ok": False}}),
    ("string_methods", "{{ s.strip() }}|{{ s.lstrip() }}|{{ s.rstrip() }}|{{ 'xxhixx'.strip('x') }}|{{ 'a,b,,c'.split(',') }}|{{ ' a  b '.split() }}|{{ 'a b c'.split(' ', 1) }}|{{ 'hello'.startswith('he') }}|{{ 'hello'.endswith(('x', 'lo')) }}|{{ 'MiXed'.upper() }}|{{ 'MiXed'.lower() }}|{{ 'aXa'.replace('a', 'b') }}|{{ 'hello wORLD'.title() }}|{{ 'hello'.capitalize() }}|{{ 'abc'.find('c') }}|{{ 'a-b'.rsplit('-') }}|{{ '\u3000 wide \u00a0'.strip() }}|{{ 'ab'.count('a') }}|{{ 'x{}y'.format(1) if false else 'fmt' }}", {"s": "  pad me \n"}),
    ("dict_methods", "{{ d.keys() | list }}|{{ d.values() | list }}|{% for k, v in d.items() %}{{ k }}{{ v }}{% endfor %}|{{ d | length }}|{{ 'a' in d }}|{{ d['b']['c'] }}|{{ d.b.c }}", {"d": {"a": 1, "b": {"c": "deep"}}}),
    ("print_values", "{{ none }}|{{ true }}|{{ 3.0 }}|{{ 1.5e300 * 1e10 }}|{{ 123456789012345678 }}|{{ 0.000012 }}|{{ 1e16 }}|{{ 1e15 }}|{{ -0.0 }}|{{ d }}|{{ ['a\\'b'] }}", {"d": {"k": "v", "n": None, "t": True, "f": 2.0}}),
    ("macro", "{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('Ann') }} {{ greet('Bob', punct='?') }} {{ greet(name='Cy') }}", {}),
    ("raise", "{% if x %}{{ raise_exception('Custom failure: ' ~ x) }}{% endif %}never", {"x": "boom"}),
    ("strftime", "{{ strftime_now('%Y-%m-%d') }}|{{ strftime_now('%d %b %Y') }}|{{ strftime_now('%B %d, %Y %H:%M:%S %A %a %j %%') }}", {}),
    ("generation_block", "A{% generation %}B{{ 1 }}{% endgeneration %}C", {}),
    ("raw_block", "{% raw %}{{ not parsed }}{% endraw %}!", {}),
    ("undefined_attr_error", "{{ nope.attr }}", {}),
    ("type_error_add", "{{ 'a' + 1 }}", {}),
    ("filter_in_if_and_concat", "{% if (l | length) > 1 and l[0] is string %}{{ l[0] ~ '|' ~ l | join('') | upper }}{% endif %}", {"l": ["ab", "cd"]}),
    ("nested_brace_dict", "{{ {'a': {'b': 1}} }}", {}),
    ("generators", "{% if [] | select %}T{% endif %}|{{ [1, 2] | map('string') | list }}|{{ d.items() }}|{{ d.keys() | length }}|{{ none | selectattr('type', 'equalto', 'x') | list | length }}|{{ [1, 2] | select | first }}", {"d": {"a": 1}}),
    ("generator_tojson_error", "{{ [1] | select | tojson }}", {}),
    ("generator_length_error", "{{ [1] | map('string') | length }}", {}),
    ("unicode_case", "{{ 'ß'.upper() }}|{{ 'İ'.lower() | length }}|{{ \"they're bill's\".title() }}|{{ 'ǅ' | title }}", {}),
    ("round_int", "{{ 15 | round(-1) }}|{{ 25 | round(-1) }}|{{ 2.675 | round(2) }}|{{ -2.5 | round }}|{{ 7 | round }}", {}),
    ("whitespace_mix", "a\n  {%- if true %}\n b{% endif -%}\n  c\n{% for i in [1,2] -%}\n  {{ i }}\n{%- endfor %}\n  {{ 'x' }}  \n  {% if true %}\n\ty\n  {%- endif %}\n", {}),
    ("set_block_trim", "{%- set x -%}\n  hi  \n{%- endset -%}\n[{{ x }}]", {}),
    ("indent_filter", "{{ 'a\\tb' | indent(2) }}|{{ 'a\\nb\\n\\nc' | indent(2, true) }}|{{ 'a\\n\\nb' | indent(blank=true) }}", {}),
    ("dictsort_sort_unique", "{{ d | dictsort }}|{{ d | dictsort(by='value', reverse=true) }}|{{ ['b','A','c'] | sort }}|{{ ['b','A','c'] | sort(case_sensitive=true) }}|{{ ['b','A','a'] | unique | list }}", {"d": {"b": 1, "A": 2, "c": 0}}),
]


def render(env, source, context):
    try:
        return {"expected": env.from_string(source).render(**context)}
    except jinja2.exceptions.TemplateSyntaxError as e:  # should not happen for the cases here
        return {"error": "syntax: " + str(e)}
    except RaisedByTemplate as e:
        return {"error": str(e), "raised": True}
    except Exception as e:  # undefined values, type errors
        return {"error": str(e), "raised": False}


def main():
    env = make_env()
    cases = []
    names = sorted(f[:-6] for f in os.listdir(HERE) if f.endswith(".jinja"))
    for name in names:
        with open(os.path.join(HERE, name + ".jinja"), encoding="utf-8") as f:
            source = f.read()
        bos, eos = TOKENS.get(name, ("<s>", "</s>"))
        for set_name, messages in {**MESSAGE_SETS, **HARMONY_SETS}.items():
            runs = [None]
            if set_name == "tool_call":
                if name not in TOOL_TEMPLATES:
                    continue
                runs = [{"tools": TOOLS}]
            if set_name in HARMONY_SETS:
                if name not in HARMONY_TEMPLATES:
                    continue
                runs = [HARMONY_EXTRA[set_name] or None]
            for extra in runs:
                for add_gen in (False, True):
                    context = {
                        "messages": messages,
                        "add_generation_prompt": add_gen,
                        "bos_token": bos,
                        "eos_token": eos,
                    }
                    case = {"template": name + ".jinja", "messages": set_name,
                            "add_generation_prompt": add_gen, "bos_token": bos, "eos_token": eos}
                    if extra:
                        context.update(extra)
                        case["extra"] = extra
                    case.update(render(env, source, context))
                    cases.append(case)
    features = []
    for name, source, context in FEATURES:
        case = {"name": name, "source": source, "vars": context}
        case.update(render(env, source, context))
        features.append(case)
    out = {
        "generator": "make_template_golden.py, jinja2 " + jinja2.__version__,
        "fixed_now": FIXED_NOW.strftime("%Y-%m-%dT%H:%M:%S"),
        "message_sets": {**MESSAGE_SETS, **HARMONY_SETS},
        "cases": cases,
        "features": features,
    }
    with open(os.path.join(HERE, "golden.json"), "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write("\n")
    n_err = sum(1 for c in cases if "error" in c)
    print(f"{len(names)} templates, {len(cases)} cases ({n_err} errors), {len(features)} feature cases")


if __name__ == "__main__":
    main()
