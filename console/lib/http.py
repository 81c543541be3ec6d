from django.core.files.storage import default_storage
from django.http import FileResponse, Http404


def wants_json(request) -> bool:
    """The upload scripts ask for JSON; a plain form post gets a page."""
    return "application/json" in request.headers.get("Accept", "")


def stored_file(name: str, content_type: str | None = None, filename: str | None = None) -> FileResponse:
    """A file from storage, streamed; an attachment when `filename` is given."""
    try:
        handle = default_storage.open(name, "rb")
    except OSError:  # FileNotFoundError included
        raise Http404("no such file") from None
    return FileResponse(
        handle, content_type=content_type, as_attachment=bool(filename), filename=filename or ""
    )
