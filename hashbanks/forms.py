from django import forms

from hashbanks.models import DEFAULT_DISTANCE, MAX_DISTANCE, Bank
from moderation import taxonomy


class BankForm(forms.Form):
    name = forms.CharField(max_length=100)
    kind = forms.ChoiceField(choices=Bank.Kind.choices, initial=Bank.Kind.LABEL)
    label = forms.ChoiceField(
        choices=[("", "— none (an allow bank that covers every label) —"), *taxonomy.choices()],
        required=False,
    )
    match_distance = forms.IntegerField(min_value=0, max_value=MAX_DISTANCE, initial=DEFAULT_DISTANCE)
    enabled = forms.BooleanField(required=False, initial=True)
    description = forms.CharField(max_length=500, required=False)


class HashListForm(forms.Form):
    hash_list = forms.FileField(label="Hash list (one 64-hex PDQ hash per line, optional quality and note)")
