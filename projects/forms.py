from django import forms

from adapters.forms import ImageSourceForm
from adapters.models import Adapter
from console.lib.widgets import LongSelect
from console.validators import validate_adapter_name, validate_description, validate_project_name
from projects.models import Project


class ProjectForm(ImageSourceForm):
    project_mode = forms.ChoiceField(
        choices=[("new", "Create a new project"), ("existing", "Add to an existing project")],
        initial="new",
        widget=forms.RadioSelect,
    )
    project = forms.ModelChoiceField(
        queryset=Project.objects.order_by("name"), required=False, widget=LongSelect
    )
    project_name = forms.CharField(max_length=255, required=False)
    adapter_name = forms.CharField(max_length=255, validators=[validate_adapter_name])
    adapter_description = forms.CharField(
        max_length=255,
        required=False,
        validators=[validate_description],
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    auto_update = forms.BooleanField(required=False, initial=True)
    copy_from = forms.ModelChoiceField(
        queryset=Adapter.objects.select_related("project").order_by("project__name", "name"),
        required=False,
        label="Start from a copy of",
        empty_label="No copy: new images only",
        widget=LongSelect,
    )
    field_order = [
        "project_mode",
        "project",
        "project_name",
        "adapter_name",
        "adapter_description",
        "auto_update",
    ]

    def clean(self):
        data = super().clean()
        if data.get("project_mode") == "existing":
            if not data.get("project"):
                self.add_error("project", "Project: choose the project to add the adapter to")
        elif "project_name" not in self.errors:  # not again after its max_length error
            name = data.get("project_name", "")
            try:
                validate_project_name(name)
            except forms.ValidationError as exc:
                self.add_error("project_name", exc)
            if data.get("copy_from"):
                self.add_error("copy_from", "Start from a copy of: only an adapter of an existing project")
        copy_from, project = data.get("copy_from"), data.get("project")
        if copy_from and project and copy_from.project_id != project.pk:
            self.add_error("copy_from", f"Start from a copy of: choose an adapter of project {project.name}")
        return data
