"""The Rekognition operations of the compatible API, over the console's own services.

Each handler takes the key's owner and the checked request parameters and returns
the response dict (timestamps as datetimes; the view writes them as epoch seconds).
Handlers raise ApiError for AWS's modeled errors. The services own the rules: a refusal
of theirs (a ValidationError with a code) becomes AWS's error in common.service_error,
and a BackendError is answered by its own code. Here are only reads (lookups by ARN, the
Describe and List queries) and the API's own ApiRequest rows; every other write is a service's.
One module per resource: detect, projects, versions (adapters), jobs (bulk analysis), tags.
"""

from rekognition_api.operations import detect, jobs, projects, tags, versions

OPERATIONS = {
    "DetectModerationLabels": detect.detect_moderation_labels,
    "CreateProject": projects.create_project,
    "DescribeProjects": projects.describe_projects,
    "DeleteProject": projects.delete_project,
    "CreateProjectVersion": versions.create_project_version,
    "DescribeProjectVersions": versions.describe_project_versions,
    "DeleteProjectVersion": versions.delete_project_version,
    "StartMediaAnalysisJob": jobs.start_media_analysis_job,
    "GetMediaAnalysisJob": jobs.get_media_analysis_job,
    "ListMediaAnalysisJobs": jobs.list_media_analysis_jobs,
    "TagResource": tags.tag_resource,
    "UntagResource": tags.untag_resource,
    "ListTagsForResource": tags.list_tags_for_resource,
}

# Where AWS documents InvalidParameterException rather than ValidationException for a bad value.
INVALID_PARAMETER_FIELDS = {("ListMediaAnalysisJobs", "MaxResults")}
