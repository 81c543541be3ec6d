from django import forms

from webhooks.models import SUBSCRIBABLE


class WebhookForm(forms.Form):
    url = forms.URLField(label="URL", max_length=2000, assume_scheme="https")
    events = forms.MultipleChoiceField(choices=SUBSCRIBABLE, widget=forms.CheckboxSelectMultiple)
    active = forms.BooleanField(required=False, initial=True, help_text="Send events to this URL")
