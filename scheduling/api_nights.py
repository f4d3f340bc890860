"""The accepted VM nights as the API shows them to a proposal's team (``GET
/api/v1/proposals/{id}/nights/``); apart from ``scheduling.api`` so that the proposals API can
import it without a cycle."""

from rest_framework import serializers

from scheduling.models import RunNight


class RunNightSerializer(serializers.ModelSerializer[RunNight]):
    run = serializers.IntegerField(source="run_id")
    name = serializers.CharField(source="run.__str__", help_text='e.g. "119.C-0001(A)"')
    telescope = serializers.CharField(source="run.telescope.name")
    instrument = serializers.CharField(source="run.instrument.name")

    class Meta:
        model = RunNight
        fields = ["run", "name", "telescope", "instrument", "date", "first_half", "second_half"]
        read_only_fields = fields
