from django.conf import settings
from django.http import HttpResponse


class RequestSizeLimitMiddleware:
    """Refuse a request whose declared body is too large before any of it is read.

    Django streams uploaded files to temporary files, but an unbounded body would
    still fill the disk; the per-file image limits are checked by the importers.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > settings.MAX_REQUEST_BYTES:
            limit_mb = settings.MAX_REQUEST_BYTES // (1024 * 1024)
            return HttpResponse(
                f"Request body of {length:,} bytes is larger than the {limit_mb} MB limit: send fewer files at once.",
                status=413,
                content_type="text/plain",
            )
        return self.get_response(request)
