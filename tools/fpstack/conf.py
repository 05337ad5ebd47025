"""Configuration files of a run: the shipped ones in conf/, rendered.

What ships is what runs: render() takes a file from conf/ and replaces the
deployment paths in it (/run/fastpush/sse.sock, /usr/local/bin/fastpush-sse,
/etc/fastpush/sse.conf, their poll counterparts, the broker's
tcp://127.0.0.1:740x) with the run's own; a token that is missing is an
error instead of quietly starting something else.
"""
import os

from .proc import ROOT

CONF = os.path.join(ROOT, "conf")

# the deployment paths in conf/ and what stands for them in a run
SOCK = "/run/fastpush/sse.sock"
SSE_BIN = "/usr/local/bin/fastpush-sse"
SSE_CONF = "/etc/fastpush/sse.conf"
POLL_SOCK = "/run/fastpush/poll.sock"
POLL_BIN = "/usr/local/bin/fastpush-poll"
POLL_CONF = "/etc/fastpush/poll.conf"

# fastpush-sse / fastpush-poll: the shipped file and its socket token
RESPONDERS = {"sse": ("fastpush-sse.conf", SOCK), "poll": ("fastpush-poll.conf", POLL_SOCK)}


def render(name, subs):
    """conf/NAME with each key of subs replaced by its value."""
    with open(os.path.join(CONF, name)) as f:
        text = f.read()
    for token, value in subs.items():
        if token not in text:
            raise ValueError(f"conf/{name}: '{token}' not found; update the caller with the file")
        text = text.replace(token, value)
    return text


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def directives(d):
    """'key value' lines (underscores in keys become dashes; a list value
    repeats the directive)."""
    out = []
    for k, v in d.items():
        for item in (v if isinstance(v, list) else [v]):
            out.append(f"{k.replace('_', '-')} {item}\n")
    return "".join(out)


def responder_conf(kind, path, broker, listen, overrides, template=True):
    """fastpush-sse (kind "sse") or fastpush-poll ("poll") configuration
    for this broker (anything with .control and .fanout) and listen
    address ("" when the web server hands the socket over), written to
    path.  template: conf/fastpush-KIND.conf with the overrides appended;
    else only listen, control, fanout and the overrides."""
    if template:
        name, sock = RESPONDERS[kind]
        text = render(name, {
            f"listen {sock}": f'listen "{listen}"',
            "control tcp://127.0.0.1:7401": f"control {broker.control}",
            "fanout tcp://127.0.0.1:7402": f"fanout {broker.fanout}",
        }) + "\n# overrides\n"
    else:
        text = (f'listen "{listen}"\n' if listen else "") + \
            f"control {broker.control}\nfanout {broker.fanout}\n"
    return write(path, text + directives(overrides))
