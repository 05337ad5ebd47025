"""The token view: a channel token for the logged-in user.

    GET /fastpush/token  ->  200 {"token": JWT, "expires": EXP, "channels": ["user.42"],
                                  "sse": "/events"}
                             403 {"error": "forbidden", ...} for an anonymous user

Never cached (Cache-Control: no-store).  A GET that changes nothing, so
no CSRF token is needed; another site cannot read the answer (no CORS
headers), and the token gives no more than the session already does.
"""
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .conf import setting
from .tokens import issue, user_channel


@never_cache
@require_GET
def token(request):
    user = request.user
    if not user.is_authenticated:
        return JsonResponse({"error": "forbidden", "message": "log in to follow your channels"},
                            status=403)
    tok, claims = issue(user)
    resp = JsonResponse({"token": tok, "expires": claims["exp"],
                         "channels": [user_channel(user)], "sse": setting("SSE_PREFIX")})
    resp["Cache-Control"] = "no-store"
    return resp
