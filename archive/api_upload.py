"""The archive upload API: external products (reduced data a PI delivers, seed 002's Phase 3).

``POST /api/v1/archive/uploads/`` (multipart ``file``) runs the raw files' checks (FITS,
``CHECKSUM``/``DATASUM``), then the header against the keyword standard, every problem named
at once under its keyword; the uploader must be an investigator of the product's programme
(``PROG_ID``) or staff. 201 with the archived product; 200 when the same bytes are archived
already. ``GET /api/v1/archive/uploads/keyword-standard/`` publishes the standard.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from archive import uploads
from archive.models import ArchiveFile
from dataflow.errors import InvalidInput
from dataflow.permissions import signed_in
from proposals.api.views import ERROR

#: Uploads above this size are refused before they are read (bytes).
DEFAULT_MAX_BYTES = 512 * 1024 * 1024


class UploadInput(serializers.Serializer):  # type: ignore[type-arg]
    file = serializers.FileField(help_text="A FITS file with CHECKSUM/DATASUM in every HDU.")


class ArchivedProductSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    outcome = serializers.SerializerMethodField(help_text="ingested, or duplicate")

    class Meta:
        model = ArchiveFile
        fields = [
            "dp_id",
            "arcfile",
            "outcome",
            "category",
            "calib_level",
            "prog_id",
            "object_name",
            "instrument_name",
            "ra_deg",
            "dec_deg",
            "sha256",
            "size_bytes",
            "release_date",
            "provenance",
            "ingested_at",
        ]
        read_only_fields = fields

    def get_outcome(self, obj: ArchiveFile) -> str:
        return str(self.context.get("outcome", "ingested"))


class KeywordRuleSerializer(serializers.Serializer):  # type: ignore[type-arg]
    keyword = serializers.CharField()
    type = serializers.CharField()
    required = serializers.BooleanField()  # type: ignore[assignment]  # a rule's field name
    allowed = serializers.ListField(child=serializers.JSONField())
    minimum = serializers.FloatField(allow_null=True)
    maximum = serializers.FloatField(allow_null=True)
    pattern = serializers.CharField(allow_blank=True)
    description = serializers.CharField(allow_blank=True)


class KeywordStandardSerializer(serializers.Serializer):  # type: ignore[type-arg]
    name = serializers.CharField()
    rules = KeywordRuleSerializer(many=True)
    provenance_prefix = serializers.CharField()
    min_provenance = serializers.IntegerField()
    run_keyword = serializers.CharField()


class UploadViewSet(viewsets.ViewSet):
    permission_classes = [IsAuthenticated]
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    @extend_schema(
        request={"multipart/form-data": UploadInput},
        responses={
            200: ArchivedProductSerializer,
            201: ArchivedProductSerializer,
            400: ERROR,
            401: ERROR,
            403: ERROR,
            404: ERROR,
            409: ERROR,
            413: ERROR,
        },
        summary="Deliver an external product (Phase 3)",
    )
    def create(self, request: Request) -> Response:
        """Archive a product; a refusal lists every problem of its header by keyword."""
        user = signed_in(request.user)
        upload = request.FILES.get("file") if hasattr(request, "FILES") else None
        if upload is None:
            raise InvalidInput("No file.", {"file": ["Send the product as the 'file' part."]})
        limit = int(getattr(settings, "ARCHIVE_UPLOAD_MAX_BYTES", DEFAULT_MAX_BYTES))
        if upload.size is not None and upload.size > limit:
            return Response(
                {"detail": f"The file is larger than {limit} bytes."},
                status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
            )
        result = uploads.product_upload(
            data=upload.read(), file_name=str(upload.name or "upload.fits"), actor=user
        )
        assert result.archive_file is not None
        body = ArchivedProductSerializer(
            result.archive_file, context={"outcome": result.outcome}
        ).data
        created = result.outcome == "ingested"
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(
        responses={200: KeywordStandardSerializer, 401: ERROR},
        summary="The keyword standard products are checked against",
    )
    @action(detail=False, methods=["get"], url_path="keyword-standard")
    def keyword_standard(self, request: Request) -> Response:
        """The standard every product's header is checked against."""
        standard = uploads.keyword_standard()
        body: dict[str, Any] = {
            "name": standard.name,
            "rules": [
                {
                    "keyword": r.keyword,
                    "type": r.type,
                    "required": r.required,
                    "allowed": list(r.allowed),
                    "minimum": r.minimum,
                    "maximum": r.maximum,
                    "pattern": r.pattern,
                    "description": r.description,
                }
                for r in standard.rules
            ],
            "provenance_prefix": standard.provenance_prefix,
            "min_provenance": standard.min_provenance,
            "run_keyword": standard.run_keyword,
        }
        return Response(KeywordStandardSerializer(body).data)


def register(router: DefaultRouter) -> None:
    router.register("archive/uploads", UploadViewSet, basename="archive-upload")
