"""Template tags: include the browser client, open the user's stream.

    {% load fastpush %}
    {% fastpush_stream %}                        the client, then
                                                 window.fastpush = new Fastpush({...})
    {% fastpush_stream "news" var="fp" %}        more channels (the token must allow
                                                 them: FASTPUSH_SUBSCRIBE), another name
    {% fastpush_script %}                        only the <script src> of the client

fastpush_stream follows the logged-in user's channel (FASTPUSH_USER_CHANNEL)
over FASTPUSH_TRANSPORTS (SSE by default) at FASTPUSH_SSE_PREFIX, with a
token function that fetches a fresh token from the token view before each
connection, so that a stream ended by its token's expiry
(FASTPUSH_STREAM_LIFETIME) resumes from its cursor with a new one.  For an
anonymous user it sets window[var] = null and opens nothing.  Page code
after the tag adds the listeners:

    <script>fastpush && fastpush.on("event", (ev) => show(ev.data));</script>
"""
import json

from django import template
from django.templatetags.static import static
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from ..conf import positive, setting
from ..tokens import user_channel

register = template.Library()

# JSON inside <script>: nothing in it may close the element
_ESCAPES = {ord("<"): "\\u003C", ord(">"): "\\u003E", ord("&"): "\\u0026",
            0x2028: "\\u2028", 0x2029: "\\u2029"}


def _js(value):
    return json.dumps(value).translate(_ESCAPES)


def js_url():
    return setting("JS_URL") or static("fastpush/fastpush.js")


@register.simple_tag
def fastpush_script():
    """<script src=...> of clients/js/fastpush.js (FASTPUSH_JS_URL)."""
    return format_html('<script src="{}"></script>', js_url())


@register.simple_tag(takes_context=True)
def fastpush_stream(context, *channels, var="fastpush", cursor=None):
    """The client and a Fastpush object following the user's channel
    (and `channels`), as window[var]."""
    request = context.get("request")
    user = getattr(request, "user", None)
    head = fastpush_script()
    if user is None or not user.is_authenticated:
        return mark_safe(head + "<script>window[%s] = null;</script>" % _js(var))
    # the client counts a stream as dead after this much silence: above
    # fastpush-sse's heartbeat, so that a quiet stream is not dropped
    silence = int(positive("HEARTBEAT") * 1000 * 1.5) + 5000
    opts = {"channels": [user_channel(user)] + list(channels),
            "transports": list(setting("TRANSPORTS")),
            "ssePath": setting("SSE_PREFIX"), "silenceTimeout": silence}
    if cursor:
        opts["cursor"] = cursor
    return mark_safe(head + """<script>
(function () {
  var opts = %s, url = %s;
  opts.token = function () {
    return fetch(url, { credentials: "same-origin", cache: "no-store" }).then(function (r) {
      if (!r.ok) { var e = new Error("fastpush token: HTTP " + r.status); e.code = "unauthorized"; throw e; }
      return r.json();
    }).then(function (j) { return j.token; });
  };
  window[%s] = new Fastpush(opts);
})();
</script>""" % (_js(opts), _js(reverse("fastpush:token")), _js(var)))
