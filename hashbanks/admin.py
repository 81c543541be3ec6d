"""The admin's banks change through the services, so every change is audited and every
process's lookup index sees it; hashes and image hashes are read-only here."""

from django import forms
from django.contrib import admin

from console.lib.admin_lists import ListAdmin
from hashbanks import services
from hashbanks.models import Bank, BankHash, ImageHash


class BankAdminForm(forms.ModelForm):
    """The services' own check (services.check_bank) on the form, so that a bank they would
    refuse is an error shown on the form, not a ValidationError out of save_model."""

    class Meta:
        model = Bank
        fields = list(services.BANK_FIELDS)

    def clean(self):
        cleaned = super().clean()
        values = {name: cleaned[name] for name in services.BANK_FIELDS if name in cleaned}
        if len(values) == len(services.BANK_FIELDS):  # else a field's own error is shown already
            services.check_bank(bank=Bank(pk=self.instance.pk, **values))
        return cleaned


@admin.register(Bank)
class BankAdmin(ListAdmin):
    form = BankAdminForm
    list_display = ["name", "kind", "label", "match_distance", "enabled", "hash_count", "changed_at"]
    list_filter = ["kind", "enabled", "label"]
    search_fields = ["name", "description", "label"]
    fields = list(services.BANK_FIELDS)

    def save_model(self, request, obj, form, change):
        values = {name: form.cleaned_data[name] for name in services.BANK_FIELDS if name in form.cleaned_data}
        if change:
            services.update_bank(user=request.user, bank=Bank.objects.get(pk=obj.pk), **values)
        else:
            obj.pk = services.create_bank(user=request.user, **values).pk

    def delete_model(self, request, obj):
        services.delete_bank(user=request.user, bank=obj)

    def delete_queryset(self, request, queryset):
        for bank in queryset:
            services.delete_bank(user=request.user, bank=bank)


class ReadOnly(ListAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(BankHash)
class BankHashAdmin(ReadOnly):
    list_display = ["hash", "bank", "quality", "variant", "source", "added_by", "added_at"]
    list_filter = ["bank"]
    search_fields = ["hash", "note", "source", "source_sha256"]
    list_select_related = ["bank", "added_by"]
    ordering = ["-pk"]


@admin.register(ImageHash)
class ImageHashAdmin(ReadOnly):
    list_display = ["sha256", "hash", "quality", "created_at"]
    search_fields = ["sha256", "hash"]
    ordering = ["-pk"]
