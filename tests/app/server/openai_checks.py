#!/usr/bin/env python3
"""What the official `openai` client sees of our server: one JSON object of
observations on stdout, which tests/app/test_server.cpp checks.

    openai_checks.py BASE_URL MODEL
"""
import json
import sys

import openai
from openai import OpenAI

base, model = sys.argv[1], sys.argv[2]
client = OpenAI(base_url=base, api_key="unused-on-loopback", max_retries=0, timeout=600)
out = {"openai_version": openai.__version__}
msgs = [{"role": "user", "content": "Write one sentence about the sea."}]

# A whole reply, greedy.
r = client.chat.completions.create(model=model, messages=msgs, temperature=0, max_tokens=24)
out["chat"] = {
    "object": r.object,
    "model": r.model,
    "role": r.choices[0].message.role,
    "content": r.choices[0].message.content,
    "finish_reason": r.choices[0].finish_reason,
    "usage": r.usage.model_dump(include={"prompt_tokens", "completion_tokens", "total_tokens"}),
}

# The same request streamed, with usage in the last chunk.
pieces, roles, finish, usage, n_chunks, last = [], [], None, None, 0, None
stream = client.chat.completions.create(model=model, messages=msgs, temperature=0, max_tokens=24, stream=True,
                                        stream_options={"include_usage": True})
for c in stream:
    n_chunks += 1
    last = c
    if c.usage is not None:
        usage = c.usage.model_dump(include={"prompt_tokens", "completion_tokens", "total_tokens"})
    for ch in c.choices:
        if ch.delta.role:
            roles.append(ch.delta.role)
        if ch.delta.content:
            pieces.append(ch.delta.content)
        if ch.finish_reason:
            finish = ch.finish_reason
out["chat_stream"] = {
    "content": "".join(pieces),
    "pieces": len(pieces),
    "chunks": n_chunks,
    "roles": roles,
    "finish_reason": finish,
    "usage": usage,
    "last_chunk_choices": len(last.choices) if last else -1,
}

# A stop sequence: a word from the middle of the greedy reply ends it there.
full = out["chat"]["content"]
words = full.split()
stop = " " + words[len(words) // 2] if len(words) > 2 else words[-1]
r = client.chat.completions.create(model=model, messages=msgs, temperature=0, max_tokens=24, stop=[stop])
out["stop"] = {
    "stop": stop,
    "expected": full[: full.find(stop)],
    "content": r.choices[0].message.content,
    "finish_reason": r.choices[0].finish_reason,
}

# Same seed, same text, at temperature 1.
seeded = [client.chat.completions.create(model=model, messages=msgs, temperature=1.0, seed=1234, max_tokens=16)
          .choices[0].message.content for _ in range(2)]
out["seed"] = {"first": seeded[0], "second": seeded[1]}

# The legacy completions endpoint.
r = client.completions.create(model=model, prompt="The three primary colors are", temperature=0, max_tokens=8)
out["completion"] = {
    "object": r.object,
    "text": r.choices[0].text,
    "finish_reason": r.choices[0].finish_reason,
    "usage": r.usage.model_dump(include={"prompt_tokens", "completion_tokens", "total_tokens"}),
}

# Structured output: a JSON schema, enforced while sampling at temperature 1.
# maxItems and maxLength bound what a small model would otherwise fill until
# max_tokens cuts the reply.
schema = {"type": "object", "properties": {"name": {"type": "string", "maxLength": 40}, "age": {"type": "integer"},
                                           "likes": {"type": "array", "maxItems": 3,
                                                     "items": {"type": "string", "maxLength": 40}},
                                           "mood": {"enum": ["happy", "sad"]}},
          "required": ["name", "age", "likes", "mood"], "additionalProperties": False}
replies = []
for seed in (1, 2, 3):
    r = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "Describe a person as JSON."}], temperature=1.0, seed=seed,
        max_tokens=300, response_format={"type": "json_schema",
                                         "json_schema": {"name": "person", "schema": schema, "strict": True}})
    text = r.choices[0].message.content
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    replies.append({"text": text, "parsed": value, "finish_reason": r.choices[0].finish_reason})
out["json_schema"] = replies

# A tool call round trip: a forced call (sampled as JSON of the call's shape),
# streamed and not, then the tool's result sent back.
tools = [{"type": "function", "function": {
    "name": "get_weather", "description": "The current weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string", "maxLength": 40}},
                   "required": ["city"]}}}]
ask = [{"role": "user", "content": "What is the weather in Paris?"}]
r = client.chat.completions.create(model=model, messages=ask, tools=tools, temperature=0, max_tokens=60,
                                   tool_choice={"type": "function", "function": {"name": "get_weather"}})
m = r.choices[0].message
calls = [{"id": c.id, "type": c.type, "name": c.function.name, "arguments": c.function.arguments}
         for c in (m.tool_calls or [])]
streamed = {}
for c in client.chat.completions.create(model=model, messages=ask, tools=tools, temperature=0, max_tokens=60,
                                        tool_choice="required", stream=True):
    for ch in c.choices:
        for tc in ch.delta.tool_calls or []:
            s = streamed.setdefault(tc.index, {"name": "", "arguments": ""})
            s["name"] += tc.function.name or ""
            s["arguments"] += tc.function.arguments or ""
        if ch.finish_reason:
            streamed_finish = ch.finish_reason
follow = None
if m.tool_calls:
    back = ask + [{"role": "assistant", "content": None, "tool_calls": [m.tool_calls[0].model_dump()]},
                  {"role": "tool", "tool_call_id": m.tool_calls[0].id,
                   "content": json.dumps({"city": "Paris", "temperature_c": 18, "sky": "sunny"})}]
    f = client.chat.completions.create(model=model, messages=back, tools=tools, temperature=0, max_tokens=40)
    follow = {"finish_reason": f.choices[0].finish_reason, "content": f.choices[0].message.content,
              "prompt_tokens": f.usage.prompt_tokens}
out["tools"] = {"finish_reason": r.choices[0].finish_reason, "content": m.content, "calls": calls,
                "prompt_tokens": r.usage.prompt_tokens, "streamed": list(streamed.values()),
                "streamed_finish": streamed_finish, "follow_up": follow}


def error_of(call):
    try:
        call()
    except openai.APIStatusError as e:
        body = e.body if isinstance(e.body, dict) else {}
        return {"class": type(e).__name__, "status": e.status_code, "code": body.get("code"),
                "param": body.get("param"), "message": body.get("message")}
    return None


out["wrong_model"] = error_of(lambda: client.chat.completions.create(model="gpt-4o", messages=msgs))
out["bad_temperature"] = error_of(
    lambda: client.chat.completions.create(model=model, messages=msgs, temperature=5))
out["models"] = [m.id for m in client.models.list()]
print(json.dumps(out))
