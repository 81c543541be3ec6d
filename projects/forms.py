from django import forms

from console.validators import validate_adapter_name, validate_description, validate_project_name


class ProjectForm(forms.Form):
    project_name = forms.CharField(max_length=255, validators=[validate_project_name])
    adapter_name = forms.CharField(max_length=255, validators=[validate_adapter_name])
    adapter_description = forms.CharField(
        max_length=255,
        required=False,
        validators=[validate_description],
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    auto_update = forms.BooleanField(required=False, initial=True)
