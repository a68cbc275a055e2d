"""Diversion warnings (预警): the warnings, their history, and the shipped rule thresholds installed as the
national version of the policy ``precursors.warning_rules`` (jindu.precursors.warnings.DEFAULT_WARNING_RULES)."""

import django.db.models.deletion
import jindu.core.fields
import jindu.core.models.base
from django.conf import settings
from django.db import migrations, models


def install_defaults(apps, schema_editor):
    from jindu.precursors.warnings import install_default_rules

    install_default_rules(apps.get_model("core", "PolicyVersion"))


def remove_defaults(apps, schema_editor):
    from jindu.precursors.warnings import WARNING_RULES

    PolicyVersion = apps.get_model("core", "PolicyVersion")
    PolicyVersion.objects.filter(kind=WARNING_RULES, is_default=True, region=None).delete()


class Migration(migrations.Migration):

    dependencies = [
        ("core", "0003_org_path_index_declared"),
        ("precursors", "0002_seed_catalogue"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='DiversionWarning',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('org_path', jindu.core.models.base.OrgPathField(default='', editable=False, max_length=512, verbose_name='org unit path')),
                ('created', models.DateTimeField(auto_now_add=True, verbose_name='created')),
                ('last_updated', models.DateTimeField(auto_now=True, verbose_name='last updated')),
                ('rule', models.CharField(choices=[('A01', 'Order inconsistent with normal consumption'), ('A02', 'New customer'), ('A03', 'Cash, barter or unusual payment'), ('A04', 'Unusual delivery'), ('A05', 'Buyer vague about the use'), ('A06', 'Unusual combination of substances'), ('A07', 'Company shopping'), ('A08', 'Mass balance beyond tolerance'), ('A09', 'Shipper–receiver difference or missing receipt'), ('A10', 'Permit problem'), ('A11', 'Late or missing filing or stocktake'), ('A12', 'Theft or missing goods'), ('A13', 'Ledger edited after the fact'), ('A14', 'Dormant firm suddenly active'), ('A15', 'Watch-list substance in unusual amounts')], max_length=3, verbose_name='rule')),
                ('level', models.CharField(choices=[('notice', 'Notice'), ('warning', 'Warning'), ('alert', 'Alert')], max_length=8, verbose_name='level')),
                ('window_start', models.DateField(blank=True, null=True, verbose_name='period from')),
                ('window_end', models.DateField(blank=True, null=True, verbose_name='period until')),
                ('dedup_key', models.CharField(max_length=200, verbose_name='deduplication key')),
                ('message', models.CharField(max_length=400, verbose_name='message')),
                ('params', models.JSONField(blank=True, default=dict, verbose_name='message values')),
                ('evidence', models.JSONField(blank=True, default=list, verbose_name='evidence')),
                ('status', models.CharField(choices=[('new', 'New'), ('assigned', 'Assigned'), ('verified', 'Verified'), ('closed', 'Closed')], default='new', max_length=10, verbose_name='status')),
                ('raised_at', models.DateTimeField(verbose_name='raised')),
                ('as_of', models.DateField(verbose_name='evaluated for')),
                ('due_at', models.DateTimeField(verbose_name='SLA due')),
                ('assigned_at', models.DateTimeField(blank=True, null=True, verbose_name='assigned')),
                ('verified_at', models.DateTimeField(blank=True, null=True, verbose_name='verified')),
                ('closed_at', models.DateTimeField(blank=True, null=True, verbose_name='closed')),
                ('outcome', models.CharField(blank=True, choices=[('false_positive', 'False positive'), ('corrected', 'Corrected by the firm'), ('referred', 'Referred (应急管理 / 药监)'), ('case_opened', 'Case opened')], max_length=16, verbose_name='outcome')),
                ('assignee', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='assignee')),
                ('enterprise', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='diversion_warnings', to='precursors.enterprise')),
                ('org_unit', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='core.orgunit', verbose_name='org unit')),
                ('policy_version', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='core.policyversion', verbose_name='rules version')),
                ('substance', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='precursors.substance')),
            ],
            options={
                'verbose_name': 'diversion warning',
                'verbose_name_plural': 'diversion warnings',
            },
            bases=(jindu.core.fields.BlindIndexSyncMixin, models.Model),
        ),
        migrations.CreateModel(
            name='WarningEvent',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('kind', models.CharField(choices=[('raised', 'Raised'), ('updated', 'New evidence'), ('assigned', 'Assigned'), ('verified', 'Verified'), ('closed', 'Closed')], max_length=10, verbose_name='step')),
                ('status', models.CharField(choices=[('new', 'New'), ('assigned', 'Assigned'), ('verified', 'Verified'), ('closed', 'Closed')], max_length=10, verbose_name='status after')),
                ('at', models.DateTimeField(verbose_name='when')),
                ('note', models.TextField(blank=True, verbose_name='note')),
                ('detail', models.JSONField(blank=True, default=dict, verbose_name='detail')),
                ('actor', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('warning', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='history', to='precursors.diversionwarning')),
            ],
            options={
                'verbose_name': 'warning event',
                'verbose_name_plural': 'warning events',
                'ordering': ['at', 'id'],
            },
        ),
        migrations.AddIndex(
            model_name='diversionwarning',
            index=models.Index(fields=['org_path', 'raised_at'], name='warning_scope_order'),
        ),
        migrations.AddIndex(
            model_name='diversionwarning',
            index=models.Index(fields=['dedup_key'], name='warning_dedup_key'),
        ),
        migrations.AddIndex(
            model_name='diversionwarning',
            index=models.Index(fields=['rule', 'status'], name='warning_rule_status'),
        ),
        migrations.AddConstraint(
            model_name='diversionwarning',
            constraint=models.UniqueConstraint(condition=models.Q(('status', 'closed'), _negated=True), fields=('dedup_key',), name='diversion_warning_open_once'),
        ),
        migrations.RunPython(install_defaults, remove_defaults),
    ]
