//! What the uploader *says* a file is, to hold against what its bytes say.

/// The media type a declared content type or a file name's extension claims, in the same
/// canonical spelling as [`crate::MediaFacts::mime`], so the caller can compare the two and refuse
/// a file that lies (a PNG renamed `.mp4`).
///
/// A specific declared type wins over the name; a vague one (`application/octet-stream`, empty,
/// unknown) defers to the extension. `None` means nothing usable was claimed. Common non-media
/// types are recognised too, so a PDF declared as a PDF is a claim that differs from any media.
pub fn claimed_mime(declared_content_type: Option<&str>, file_name: Option<&str>) -> Option<&'static str> {
    declared_content_type.and_then(from_content_type).or_else(|| file_name.and_then(from_file_name))
}

fn from_content_type(value: &str) -> Option<&'static str> {
    let essence = value.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    Some(match essence.as_str() {
        "image/png" | "image/x-png" | "image/apng" => "image/png",
        "image/jpeg" | "image/jpg" | "image/pjpeg" => "image/jpeg",
        "image/gif" => "image/gif",
        "image/webp" => "image/webp",
        "video/mp4" | "video/x-m4v" | "application/mp4" => "video/mp4",
        "video/quicktime" => "video/quicktime",
        "image/heic" | "image/heif" => "image/heic",
        "image/avif" => "image/avif",
        "image/svg+xml" => "image/svg+xml",
        "video/webm" => "video/webm",
        "application/pdf" => "application/pdf",
        "application/zip" | "application/x-zip-compressed" => "application/zip",
        "text/plain" => "text/plain",
        "text/html" => "text/html",
        _ => return None,
    })
}

fn from_file_name(name: &str) -> Option<&'static str> {
    let (_, extension) = name.rsplit_once('.')?;
    Some(match extension.to_ascii_lowercase().as_str() {
        "png" | "apng" => "image/png",
        "jpg" | "jpeg" | "jpe" | "jfif" | "pjpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "mp4" | "m4v" => "video/mp4",
        "mov" | "qt" => "video/quicktime",
        "heic" | "heif" => "image/heic",
        "avif" => "image/avif",
        "svg" => "image/svg+xml",
        "webm" => "video/webm",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        "txt" => "text/plain",
        "html" | "htm" => "text/html",
        _ => return None,
    })
}
