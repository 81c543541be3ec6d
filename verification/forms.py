from django import forms

from adapters.forms import TrainForm
from console.lib.widgets import LongSelect
from console.validators import validate_adapter_name, validate_project_name
from projects.models import Project


class TrainFromVerificationForm(TrainForm):
    """Train an adapter from verified predictions: where it goes, its test data, tags and key.

    confidence_threshold (from TrainForm) is the threshold the predictions are read at.
    """

    PROJECT = [("new", "Create a new project"), ("existing", "Add to an existing project")]
    TEST_DATA = [("autosplit", "Autosplit (recommended)"), ("manifest", "Import a test manifest")]

    project_choice = forms.ChoiceField(choices=PROJECT, initial="new", widget=forms.RadioSelect)
    project_name = forms.CharField(label="Project name", max_length=255, required=False)
    project = forms.ModelChoiceField(
        queryset=Project.objects.all(), required=False, label="Existing project", widget=LongSelect
    )
    adapter_name = forms.CharField(label="Adapter name", max_length=255, validators=[validate_adapter_name])
    test_data = forms.ChoiceField(choices=TEST_DATA, initial="autosplit", widget=forms.RadioSelect)
    test_manifest = forms.FileField(label="Test manifest", required=False)
    auto_update = forms.BooleanField(label="Auto-update", required=False, initial=True)

    def clean(self):
        data = super().clean()
        if data.get("project_choice") == "existing":
            if not data.get("project"):
                self.add_error("project", "Existing project: choose a project")
        elif "project_name" not in self.errors:  # not again after its max_length error
            name = (data.get("project_name") or "").strip()
            if not name:
                self.add_error("project_name", "Project name: is required")
            else:
                try:
                    validate_project_name(name)
                except forms.ValidationError as exc:
                    self.add_error("project_name", exc)
            data["project"] = None
        if data.get("test_data") == "manifest" and not data.get("test_manifest"):
            self.add_error("test_manifest", "Test manifest: choose a manifest file, or use autosplit")
        return data
