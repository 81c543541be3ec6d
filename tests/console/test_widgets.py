"""LongSelect writes the same <select> as Django's Select, without a template per option."""

import re

import pytest
from django import forms

from console.lib.widgets import LongSelect
from projects.models import Project

pytestmark = pytest.mark.django_db


def options(html):
    return re.findall(r"<option value=\"([^\"]*)\"( selected)?>([^<]*)</option>", html)


@pytest.mark.parametrize("value", [None, "chosen"])
def test_it_renders_the_options_and_the_choice_of_djangos_select(value):
    for name in ("a <b> & c", "chosen", "z"):
        Project.objects.create(name=name, arn=f"arn-{name}")
    if value:
        value = Project.objects.get(name=value).pk

    def render(widget):
        field = forms.ModelChoiceField(Project.objects.order_by("name"), required=False, widget=widget)
        return field.widget.render("project", value, attrs={"id": "id_project"})

    ours, django = render(LongSelect), render(forms.Select)
    assert options(ours) == options(django) and len(options(ours)) == 4
    assert "a &lt;b&gt; &amp; c" in ours
    assert re.match(r"<select [^>]*\bname=\"project\"", ours) and ' id="id_project"' in ours.split(">")[0]
    assert [label for _, selected, label in options(ours) if selected] == ["chosen" if value else "---------"]
