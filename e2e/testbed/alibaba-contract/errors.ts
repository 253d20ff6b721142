/**
 * An ECS API error as the documented error body carries it
 * (`{RequestId, HostId, Code, Message, Recommend}`) with its HTTP status.
 * Handlers throw it; the server turns it into the response.
 */
export class EcsApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Extra response headers, e.g. `x-acs-retry-after` on throttling. */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "EcsApiError";
  }
}

/** The documented codes the contract server returns, with their statuses and messages. */
export const ecsErrors = {
  missingParameter: (name: string) => new EcsApiError(400, "MissingParameter", `The input parameter "${name}" that is mandatory for processing this request is not supplied.`),
  invalidParameter: (name: string, why: string) => new EcsApiError(400, "InvalidParameter", `The specified parameter "${name}" is not valid: ${why}`),
  invalidAction: (action: string) => new EcsApiError(404, "InvalidAction.NotFound", `Specified api is not found, please check your url and method. (${action})`),
  incompleteSignature: (why: string) => new EcsApiError(400, "IncompleteSignature", `The request signature does not conform to Aliyun standards. ${why}`),
  signatureDoesNotMatch: (stringToSign: string) => new EcsApiError(400, "SignatureDoesNotMatch", `Specified signature is not matched with our calculation. server string to sign is:${stringToSign}`),
  accessKeyNotFound: () => new EcsApiError(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found."),
  timestampExpired: () => new EcsApiError(400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired."),
  nonceUsed: () => new EcsApiError(400, "SignatureNonceUsed", "Specified signature nonce was used already."),
  throttled: (retryAfterMs: number) => new EcsApiError(400, "Throttling.User", "Request was denied due to user flow control.", { "x-acs-retry-after": String(retryAfterMs) }),
  serviceUnavailable: () => new EcsApiError(503, "ServiceUnavailable", "The request has failed due to a temporary failure of the server."),
  dryRun: () => new EcsApiError(400, "DryRunOperation", "Request validation has been passed with DryRun flag set."),
  instanceNotFound: () => new EcsApiError(404, "InvalidInstanceId.NotFound", "The specified InstanceId does not exist."),
  // Cloud Assistant's own codes (RunCommand's error table).
  missingInstanceIdParam: () => new EcsApiError(400, "MissingParam.InstanceId", "The parameter instanceId is missing or empty."),
  instanceIdsExceedLimit: () => new EcsApiError(403, "InstanceIds.ExceedLimit", "The number of instance IDs exceeds the upper limit."),
  commandInstanceNotFound: () => new EcsApiError(404, "InvalidInstance.NotFound", "The specified instance does not exist."),
  commandContentExceedLimit: () => new EcsApiError(403, "CmdContent.ExceedLimit", "The maximum length of a command is exceeded."),
  idempotentParameterMismatch: () => new EcsApiError(403, "IdempotentParameterMismatch", "The specified parameter has changed while using an already used clientToken."),
  incorrectInstanceStatus: () => new EcsApiError(403, "IncorrectInstanceStatus", "The current status of the resource does not support this operation."),
  diskNotFound: () => new EcsApiError(404, "InvalidDiskId.NotFound", "The specified disk does not exist."),
  incorrectDiskStatus: () => new EcsApiError(403, "IncorrectDiskStatus", "The current disk status does not support this operation."),
  snapshotNotFound: () => new EcsApiError(404, "InvalidSnapshotId.NotFound", "The specified SnapshotId does not exist."),
  /** CopySnapshot answers a missing source with 403, not 404 (its error table). */
  copySourceNotFound: () => new EcsApiError(403, "InvalidSnapshotId.NotFound", "The specified snapshot is not exists."),
  copyInSameRegion: () => new EcsApiError(403, "InvalidOperation.NotSupportCopyInSameRegion", "Copying snapshot in the same region is not supported."),
  unfinishedCrossRegionCopy: () => new EcsApiError(403, "InvalidOperation.UnfinishedCrossRegionCopy", "This disk has unfinished cross-region copy snapshots in the target region."),
  snapshotNameMalformed: () => new EcsApiError(403, "InvalidSnapshotName.Malformed", "The specified SnapshotName is wrongly formed."),
  descriptionMalformed: () => new EcsApiError(403, "InvalidDescription.Malformed", "The specified description is wrongly formed."),
  retentionDaysMalformed: () => new EcsApiError(403, "InvalidRetentionDays.Malformed", "The specified RetentionDays is not valid."),
  /** RunInstances' own code for a DataDisk.N.SnapshotId it cannot find (in the call's region). */
  dataDiskSnapshotNotFound: () => new EcsApiError(404, "InvalidDataDiskSnapshotId.NotFound", 'The specified parameter "DataDisk.n.SnapshotId" is not valid.'),
  snapshotNotReady: () => new EcsApiError(403, "InvalidSnapshotId.NotReady", "The specified snapshot has not completed yet."),
  snapshotCreatedImage: () => new EcsApiError(403, "SnapshotCreatedImage", "The snapshot has been used to create user defined image."),
  imageNotFound: () => new EcsApiError(404, "InvalidImageId.NotFound", "The specified ImageId does not exist."),
  imageIsImporting: () => new EcsApiError(403, "ImageIsImporting", "The specified Image is importing."),
  imageIsCreating: () => new EcsApiError(403, "IncorrectImageStatus", "The Image is creating, not support this operation."),
  imageUsedByInstance: () => new EcsApiError(403, "ImageUsingByInstance", "The specified image has been used to create instances."),
  imageNotAvailable: () => new EcsApiError(403, "InvalidImageId.NotAvailable", "The specified image is not available."),
  noRamRole: () => new EcsApiError(403, "NoSetRoletoECSServiceAccount", "The specified service account has not set role."),
  ossObjectNotFound: () => new EcsApiError(404, "InvalidOSSObject.NotFound", "The specified OSS object does not exist."),
  ossBucketNotFound: () => new EcsApiError(404, "InvalidOSSBucket.NotExist", "The specified OSS bucket does not exist."),
  taskNotFound: () => new EcsApiError(404, "InvalidTaskId.NotFound", "The specified taskId does not exist."),
  /** (assumed) CancelTask of a task that is no longer running. */
  taskNotCancellable: () => new EcsApiError(403, "IncorrectTaskStatus", "The current status of the task does not support this operation."),
  taskCannotCancel: () => new EcsApiError(403, "IncorrectTaskStatus", "The current task status does not support this operation."),
  invalidUserData: () => new EcsApiError(400, "InvalidUserData.Base64FormatInvalid", "The specified parameter UserData must be base64 encoded."),
  /** RunInstances and CreateDisk: a ZoneId that is not one of the region's zones (DescribeZones). */
  zoneNotFound: () => new EcsApiError(404, "InvalidZoneId.NotFound", "The specified zoneId does not exist."),
  vSwitchNotFound: () => new EcsApiError(404, "InvalidVSwitchId.NotFound", "Specified virtual switch does not exist."),
  vSwitchZoneMismatch: () => new EcsApiError(400, "InvalidParameter.Mismatch", "Specified virtual switch is not in the specified zone."),
  securityGroupNotFound: () => new EcsApiError(404, "InvalidSecurityGroupId.NotFound", "The SecurityGroupId provided does not exist in our records."),
  securityGroupVpcMismatch: () => new EcsApiError(400, "InvalidParameter.Mismatch", "Specified security group and virtual switch are not in the same VPC."),
  privateIpMalformed: () => new EcsApiError(400, "InvalidPrivateIpAddress.Malformed", "Specified private IP address is malformed."),
  privateIpNotInVSwitch: () => new EcsApiError(400, "InvalidPrivateIpAddress", "Specified private IP address is not in the CIDR block of virtual switch."),
  privateIpDuplicated: () => new EcsApiError(400, "InvalidPrivateIpAddress.Duplicated", "Specified private IP address is duplicated."),
  privateIpExhausted: () => new EcsApiError(400, "QuotaExceeded.PrivateIpAddress", "Don't have enough private IPs in this switch"),
  // The EIP actions' own error tables (ECS 2014-05-26, deprecated for the VPC API's but served): mostly 400.
  eipNotFound: () => new EcsApiError(404, "InvalidAllocationId.NotFound", "Specified allocation ID is not found"),
  incorrectEipStatus: () => new EcsApiError(400, "IncorrectEipStatus", "Current elastic IP status does not support this operation."),
  eipInstanceNotFound: () => new EcsApiError(400, "InvalidInstanceId.NotFound", "Specified instance does not exist."),
  eipIncorrectInstanceStatus: () => new EcsApiError(400, "IncorrectInstanceStatus", "The current status of instance does not support this operation."),
  eipInstanceTypeNotSupported: () => new EcsApiError(400, "InvalidInstanceType.ValueNotSupported", "The specified value of InstanceType is not supported."),
  /** (assumed) AssociateEipAddress to an instance that already has an EIP: the code is not documented. */
  instanceHasEip: () => new EcsApiError(400, "InvalidAssociation.Duplicated", "The specified instance already has an elastic IP address associated."),
  internetChargeTypeNotSupported: () => new EcsApiError(400, "InvalidInternetChargeType.ValueNotSupported", "The specified InternetChargeType is not valid."),
  userDataTooLarge: () => new EcsApiError(400, "InvalidUserData.SizeExceeded", "The specified parameter UserData exceeds the size."),
};

/** An OSS error as its documented XML body carries it, with the HTTP status. */
export class OssApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Additional elements of the error body (e.g. `StringToSign`, `Key`). */
    readonly details: Record<string, string> = {},
  ) {
    super(message);
    this.name = "OssApiError";
  }
}

export const ossErrors = {
  accessDenied: (why: string) => new OssApiError(403, "AccessDenied", why),
  invalidAccessKeyId: () => new OssApiError(403, "InvalidAccessKeyId", "The OSS Access Key Id you provided does not exist in our records."),
  signatureDoesNotMatch: (stringToSign: string, canonicalRequest: string) =>
    new OssApiError(403, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your key and signing method.", { StringToSign: stringToSign, CanonicalRequest: canonicalRequest }),
  timeTooSkewed: () => new OssApiError(403, "RequestTimeTooSkewed", "The difference between the request time and the current time is too large."),
  invalidArgument: (why: string) => new OssApiError(400, "InvalidArgument", why),
  noSuchBucket: (bucket: string) => new OssApiError(404, "NoSuchBucket", "The specified bucket does not exist.", { BucketName: bucket }),
  bucketAlreadyExists: (bucket: string) => new OssApiError(409, "BucketAlreadyExists", "The requested bucket name is not available.", { BucketName: bucket }),
  noSuchKey: (key: string) => new OssApiError(404, "NoSuchKey", "The specified key does not exist.", { Key: key }),
  noSuchUpload: (uploadId: string) => new OssApiError(404, "NoSuchUpload", "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.", { UploadId: uploadId }),
  invalidPart: () => new OssApiError(400, "InvalidPart", "One or more of the specified parts could not be found or the specified entity tag might not have matched the part's entity tag."),
  invalidPartOrder: () => new OssApiError(400, "InvalidPartOrder", "The list of parts was not in ascending order. Parts list must be specified in order by part number."),
  entityTooSmall: () => new OssApiError(400, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size."),
  invalidRange: () => new OssApiError(416, "InvalidRange", "The requested range cannot be satisfied."),
  badDigest: () => new OssApiError(400, "InvalidDigest", "The Content-MD5 you specified is not valid."),
  serviceUnavailable: () => new OssApiError(503, "ServiceUnavailable", "Please reduce your request rate."),
  notImplemented: (what: string) => new OssApiError(501, "NotImplemented", `The contract server does not implement ${what}.`),
};
