"""The archive search API (under /api/v1/archive/):

* ``GET archive/files/``: files by position (``ra``/``dec`` or a ``target`` name the archive
  has seen, ``radius_arcmin``), time (``date_from``/``date_to``), ``instrument``,
  ``programme``, ``object`` and ``category``; paginated, nearest first for a cone;
* ``GET archive/files/{file_id}/``: a file's metadata and primary header;
* ``GET archive/files/{file_id}/download/``: its bytes (FITS), decided at download time: a
  proprietary file is 401 without a token and 403 for anyone not entitled to it;
* ``GET, POST archive/requests/`` and ``GET archive/requests/{download_id}/``: the user's
  download requests (created from file ids or the basket, prepared in the background; the
  progress bar of the request page reads the latter).

Searching and metadata are open to anonymous clients (headers are public as at ESO, see
``archive.access``); requests need a token or a session.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotAuthenticated, NotFound, PermissionDenied
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from archive import access, downloads, selectors
from archive.models import ArchiveFile, Category, DownloadRequest
from archive.selectors import DEFAULT_RADIUS_ARCMIN, MAX_RADIUS_ARCMIN, SearchQuery
from dataflow.errors import InvalidInput
from dataflow.permissions import signed_in
from proposals.api.views import ERROR
from proposals.coordinates import MAX_TEXT_LENGTH, parse_dec, parse_ra

ID = r"[0-9]+"
MAX_PK_DIGITS = 18


def _pk(value: str) -> int:
    """A path id as a primary key; one too long for any key names nothing (404, not a crash)."""
    if len(value) > MAX_PK_DIGITS:
        raise NotFound("No such object.")
    return int(value)


# ---------------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------------


class SearchInput(serializers.Serializer[Any]):
    target = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=200,
        help_text="A target name the archive has seen (its OBJECT keyword); "
        "used when no ra/dec is given",
    )
    ra = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=MAX_TEXT_LENGTH,
        help_text="Cone centre's right ascension: hh:mm:ss.s or degrees (with dec)",
    )
    dec = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=MAX_TEXT_LENGTH,
        help_text="Cone centre's declination: ±dd:mm:ss or degrees (with ra)",
    )
    radius_arcmin = serializers.FloatField(
        required=False,
        min_value=0.001,
        max_value=MAX_RADIUS_ARCMIN,
        help_text=f"Cone radius, arcmin (default {DEFAULT_RADIUS_ARCMIN:g})",
    )
    date_from = serializers.DateField(required=False, help_text="Observed on or after (UTC)")
    date_to = serializers.DateField(required=False, help_text="Observed on or before (UTC)")
    instrument = serializers.CharField(required=False, allow_blank=True, max_length=32)
    programme = serializers.CharField(
        required=False, allow_blank=True, max_length=32, help_text="Programme id prefix"
    )
    object = serializers.CharField(
        required=False, allow_blank=True, max_length=200, help_text="Part of the OBJECT keyword"
    )
    category = serializers.ChoiceField(
        choices=Category.values, required=False, allow_blank=True, help_text="DPR CATG"
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        ra, dec = attrs.get("ra", ""), attrs.get("dec", "")
        if bool(ra) != bool(dec):
            missing = "dec" if ra else "ra"
            raise serializers.ValidationError({missing: ["Give both ra and dec, or neither."]})
        if ra:
            try:
                attrs["ra_deg"], attrs["dec_deg"] = parse_ra(ra), parse_dec(dec)
            except InvalidInput as error:
                raise serializers.ValidationError(error.errors) from error
        start, end = attrs.get("date_from"), attrs.get("date_to")
        if start and end and start > end:
            raise serializers.ValidationError({"date_to": ["The end is before the start."]})
        return attrs

    def query(self) -> SearchQuery:
        data = self.validated_data
        return SearchQuery(
            ra_deg=data.get("ra_deg"),
            dec_deg=data.get("dec_deg"),
            target=data.get("target", ""),
            radius_arcmin=data.get("radius_arcmin", DEFAULT_RADIUS_ARCMIN),
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
            instrument=data.get("instrument", ""),
            programme=data.get("programme", ""),
            object_name=data.get("object", ""),
            category=data.get("category", ""),
        )


class DownloadRequestInput(serializers.Serializer[Any]):
    files = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
        required=False,
        max_length=downloads.MAX_REQUEST_FILES,
        help_text="Archive file ids",
    )
    from_basket = serializers.BooleanField(
        required=False, default=False, help_text="Also request the basket's files (emptying it)"
    )


# ---------------------------------------------------------------------------------------------
# Answers
# ---------------------------------------------------------------------------------------------


class ArchiveFileSerializer(serializers.ModelSerializer[ArchiveFile]):
    distance_arcmin = serializers.SerializerMethodField(
        help_text="From the cone's centre (null without a cone)"
    )
    public = serializers.SerializerMethodField(help_text="Released to everyone today")

    class Meta:
        model = ArchiveFile
        fields = [
            "id",
            "dp_id",
            "arcfile",
            "category",
            "dpr_type",
            "dpr_tech",
            "calib_level",
            "instrument_name",
            "telescope_name",
            "object_name",
            "ra_deg",
            "dec_deg",
            "date_obs",
            "t_min",
            "t_max",
            "exptime_s",
            "prog_id",
            "night",
            "size_bytes",
            "sha256",
            "release_date",
            "public",
            "distance_arcmin",
        ]
        read_only_fields = fields

    def get_distance_arcmin(self, obj: ArchiveFile) -> float | None:
        value = getattr(obj, "distance_arcmin", None)
        return float(value) if value is not None else None

    def get_public(self, obj: ArchiveFile) -> bool:
        return access.is_public(obj)


class ArchiveFileDetailSerializer(ArchiveFileSerializer):
    class Meta(ArchiveFileSerializer.Meta):
        fields = [*ArchiveFileSerializer.Meta.fields, "header_text", "footprint", "provenance"]
        read_only_fields = fields


class DownloadRequestSerializer(serializers.ModelSerializer[DownloadRequest]):
    files: serializers.PrimaryKeyRelatedField[ArchiveFile] = serializers.PrimaryKeyRelatedField(
        many=True, read_only=True
    )

    class Meta:
        model = DownloadRequest
        fields = [
            "id",
            "status",
            "done",
            "total",
            "created_at",
            "finished_at",
            "result_size",
            "error",
            "files",
        ]
        read_only_fields = fields


FITS = OpenApiResponse(response=OpenApiTypes.BINARY, description="The FITS file")
FILE_ERRORS = {401: ERROR, 403: ERROR, 404: ERROR}


@extend_schema_view(
    list=extend_schema(
        parameters=[SearchInput], responses={200: ArchiveFileSerializer(many=True), 400: ERROR}
    ),
    retrieve=extend_schema(responses={200: ArchiveFileDetailSerializer, 404: ERROR}),
)
class ArchiveFileViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[ArchiveFile]
):
    """Archived files: metadata for everyone, bytes for whoever may have them now."""

    lookup_url_kwarg = "file_id"
    lookup_value_regex = ID
    permission_classes = [AllowAny]
    serializer_class = ArchiveFileSerializer

    def get_queryset(self) -> QuerySet[ArchiveFile]:
        return access.visible_files(self.request.user)

    def list(self, request: Request) -> Response:
        params = SearchInput(data=request.query_params.dict())
        params.is_valid(raise_exception=True)
        files = selectors.search_files(request.user, params.query())
        page = self.paginate_queryset(files)
        return self.get_paginated_response(ArchiveFileSerializer(page, many=True).data)

    def _file(self, file_id: str) -> ArchiveFile:
        found = self.get_queryset().filter(pk=_pk(file_id)).first()
        if found is None:
            raise NotFound("No such file in the archive.")
        return found

    def retrieve(self, request: Request, file_id: str) -> Response:
        return Response(ArchiveFileDetailSerializer(self._file(file_id)).data)

    @extend_schema(
        responses={(200, "application/fits"): FITS, **FILE_ERRORS},
        description="The file's bytes. A proprietary file: 401 without credentials, 403 for "
        "anyone but its programme's PI, co-investigators, delegates and staff.",
    )
    @action(detail=True, methods=["get"], pagination_class=None)
    def download(self, request: Request, file_id: str) -> FileResponse:
        archive_file = self._file(file_id)
        if not access.may_download(request.user, archive_file):
            if not request.user.is_authenticated:
                raise NotAuthenticated(
                    f"{archive_file.dp_id} is proprietary: send a token to download it."
                )
            raise PermissionDenied(
                f"{archive_file.dp_id} is proprietary until {archive_file.release_date:%Y-%m-%d}."
            )
        path = downloads.file_path(archive_file)
        if not path.is_file():
            raise NotFound("The file is missing from archive storage.")
        return FileResponse(
            path.open("rb"),
            as_attachment=True,
            filename=archive_file.arcfile,
            content_type="application/fits",
        )


@extend_schema_view(
    list=extend_schema(responses={200: DownloadRequestSerializer(many=True), 401: ERROR}),
    retrieve=extend_schema(responses={200: DownloadRequestSerializer, 401: ERROR, 404: ERROR}),
    create=extend_schema(
        request=DownloadRequestInput,
        responses={201: DownloadRequestSerializer, 400: ERROR, 401: ERROR, 403: ERROR},
    ),
)
class DownloadRequestViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet[DownloadRequest]
):
    """The user's download requests (nobody sees another's: 404)."""

    lookup_url_kwarg = "download_id"
    lookup_value_regex = ID
    permission_classes = [IsAuthenticated]
    serializer_class = DownloadRequestSerializer

    def get_queryset(self) -> QuerySet[DownloadRequest]:
        if getattr(self, "swagger_fake_view", False):  # the schema's generation: no user
            return DownloadRequest.objects.none()
        return (
            DownloadRequest.objects.filter(user=signed_in(self.request.user))
            .prefetch_related("files")
            .order_by("-created_at", "-pk")
        )

    def retrieve(self, request: Request, download_id: str) -> Response:
        found = self.get_queryset().filter(pk=_pk(download_id)).first()
        if found is None:
            raise NotFound("No such download request.")
        return Response(DownloadRequestSerializer(found).data)

    def create(self, request: Request) -> Response:
        """Request files (ids, or the basket); every one must be yours to download now."""
        data = DownloadRequestInput(data=request.data)
        data.is_valid(raise_exception=True)
        created = downloads.download_request_create(
            user=signed_in(request.user),
            file_ids=data.validated_data.get("files", []),
            from_basket=data.validated_data["from_basket"],
        )
        created.refresh_from_db()
        return Response(DownloadRequestSerializer(created).data, status=status.HTTP_201_CREATED)


def register(router: DefaultRouter) -> None:
    router.register("archive/files", ArchiveFileViewSet, basename="archive-file")
    router.register("archive/requests", DownloadRequestViewSet, basename="archive-download")
