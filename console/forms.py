from django import forms

from console.lib import protection
from console.models import OrganisationProtection, Profile
from moderation import taxonomy

CATEGORIES = [(name, name) for name in taxonomy.TOP_LEVEL]


class OrganisationProtectionForm(forms.ModelForm):
    """The organisation default, set by an admin."""

    mode = forms.ChoiceField(choices=protection.MODES, widget=forms.RadioSelect, label="Protection")
    categories = forms.MultipleChoiceField(
        choices=CATEGORIES,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label="Images predicted or labeled in these categories",
    )

    class Meta:
        model = OrganisationProtection
        fields = ["mode", "categories"]


class ProtectionForm(forms.ModelForm):
    """A person's own reviewer protection, or "" to keep the organisation default."""

    protection_mode = forms.ChoiceField(
        choices=[("", "Use the organisation default"), *protection.MODES],
        widget=forms.RadioSelect,
        required=False,
        label="Protection",
    )
    protected_categories = forms.MultipleChoiceField(
        choices=CATEGORIES,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label="Images predicted or labeled in these categories (your own choice only)",
    )

    class Meta:
        model = Profile
        fields = ["protection_mode", "protected_categories"]

    def clean(self):
        data = super().clean()
        if not data.get("protection_mode"):
            data["protected_categories"] = []  # the organisation's categories apply
        return data
