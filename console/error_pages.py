"""Error pages that say what to do, where Django's default would answer a bare status line."""

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.shortcuts import render


def bad_request(request, exception=None):
    """400. A form post over Django's upload limits fails while the CSRF check reads the body,
    before any view runs: name the limit here so the user knows how to send the files."""
    if isinstance(exception, TooManyFilesSent):
        message = (
            f"Too many files in one submission: at most {settings.DATA_UPLOAD_MAX_NUMBER_FILES} files can be "
            "sent at once without JavaScript. Send the rest with Add images, or turn JavaScript on "
            "(the page then sends any number of files in batches)."
        )
    elif isinstance(exception, TooManyFieldsSent | RequestDataTooBig):
        message = "The form sent more data than one request may carry: send fewer files or fields at once."
    else:
        message = "The request could not be understood. Go back, check the form and send it again."
    return render(request, "console/bad_request.html", {"message": message}, status=400)
