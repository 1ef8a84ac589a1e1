//! MIME type and media type from a file name's extension, as MediaProvider derives them for
//! policy (SPEC §5.4). Content sniffing is the scanner's business; policy follows the name.

/// MediaProvider's `media_type` column values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MediaType {
    None = 0,
    Image = 1,
    Audio = 2,
    Video = 3,
    Playlist = 4,
    Subtitle = 5,
    Document = 6,
}

impl MediaType {
    pub fn from_i64(v: i64) -> MediaType {
        match v {
            1 => MediaType::Image,
            2 => MediaType::Audio,
            3 => MediaType::Video,
            4 => MediaType::Playlist,
            5 => MediaType::Subtitle,
            6 => MediaType::Document,
            _ => MediaType::None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            MediaType::None => "none",
            MediaType::Image => "image",
            MediaType::Audio => "audio",
            MediaType::Video => "video",
            MediaType::Playlist => "playlist",
            MediaType::Subtitle => "subtitle",
            MediaType::Document => "document",
        }
    }

    /// Image or video: what the gallery role may write.
    pub fn is_visual(self) -> bool {
        matches!(self, MediaType::Image | MediaType::Video)
    }
}

pub const OCTET_STREAM: &str = "application/octet-stream";

// (extension, mime, media type); extensions are lower-case.
const TABLE: &[(&str, &str, MediaType)] = &[
    // images
    ("jpg", "image/jpeg", MediaType::Image),
    ("jpeg", "image/jpeg", MediaType::Image),
    ("jpe", "image/jpeg", MediaType::Image),
    ("png", "image/png", MediaType::Image),
    ("gif", "image/gif", MediaType::Image),
    ("webp", "image/webp", MediaType::Image),
    ("heic", "image/heic", MediaType::Image),
    ("heif", "image/heif", MediaType::Image),
    ("avif", "image/avif", MediaType::Image),
    ("bmp", "image/x-ms-bmp", MediaType::Image),
    ("wbmp", "image/vnd.wap.wbmp", MediaType::Image),
    ("tif", "image/tiff", MediaType::Image),
    ("tiff", "image/tiff", MediaType::Image),
    ("dng", "image/x-adobe-dng", MediaType::Image),
    ("cr2", "image/x-canon-cr2", MediaType::Image),
    ("cr3", "image/x-canon-cr3", MediaType::Image),
    ("nef", "image/x-nikon-nef", MediaType::Image),
    ("nrw", "image/x-nikon-nrw", MediaType::Image),
    ("arw", "image/x-sony-arw", MediaType::Image),
    ("orf", "image/x-olympus-orf", MediaType::Image),
    ("raf", "image/x-fuji-raf", MediaType::Image),
    ("rw2", "image/x-panasonic-rw2", MediaType::Image),
    ("pef", "image/x-pentax-pef", MediaType::Image),
    ("srw", "image/x-samsung-srw", MediaType::Image),
    ("ico", "image/x-icon", MediaType::Image),
    ("svg", "image/svg+xml", MediaType::Image),
    // video
    ("mp4", "video/mp4", MediaType::Video),
    ("m4v", "video/x-m4v", MediaType::Video),
    ("mov", "video/quicktime", MediaType::Video),
    ("3gp", "video/3gpp", MediaType::Video),
    ("3gpp", "video/3gpp", MediaType::Video),
    ("3g2", "video/3gpp2", MediaType::Video),
    ("3gpp2", "video/3gpp2", MediaType::Video),
    ("mkv", "video/x-matroska", MediaType::Video),
    ("webm", "video/webm", MediaType::Video),
    ("avi", "video/avi", MediaType::Video),
    ("ts", "video/mp2ts", MediaType::Video),
    ("mpg", "video/mpeg", MediaType::Video),
    ("mpeg", "video/mpeg", MediaType::Video),
    ("wmv", "video/x-ms-wmv", MediaType::Video),
    ("flv", "video/x-flv", MediaType::Video),
    // audio
    ("mp3", "audio/mpeg", MediaType::Audio),
    ("m4a", "audio/mp4", MediaType::Audio),
    ("m4b", "audio/mp4", MediaType::Audio),
    ("aac", "audio/aac", MediaType::Audio),
    ("ogg", "audio/ogg", MediaType::Audio),
    ("oga", "audio/ogg", MediaType::Audio),
    ("opus", "audio/ogg", MediaType::Audio),
    ("flac", "audio/flac", MediaType::Audio),
    ("wav", "audio/x-wav", MediaType::Audio),
    ("amr", "audio/amr", MediaType::Audio),
    ("awb", "audio/amr-wb", MediaType::Audio),
    ("mid", "audio/midi", MediaType::Audio),
    ("midi", "audio/midi", MediaType::Audio),
    ("wma", "audio/x-ms-wma", MediaType::Audio),
    ("mka", "audio/x-matroska", MediaType::Audio),
    ("3ga", "audio/3gpp", MediaType::Audio),
    ("imy", "audio/imelody", MediaType::Audio),
    ("xmf", "audio/midi", MediaType::Audio),
    ("rtttl", "audio/midi", MediaType::Audio),
    // playlists
    ("m3u", "audio/x-mpegurl", MediaType::Playlist),
    ("m3u8", "audio/x-mpegurl", MediaType::Playlist),
    ("pls", "audio/x-scpls", MediaType::Playlist),
    ("wpl", "application/vnd.ms-wpl", MediaType::Playlist),
    // subtitles
    ("srt", "application/x-subrip", MediaType::Subtitle),
    ("vtt", "text/vtt", MediaType::Subtitle),
    ("ssa", "text/x-ssa", MediaType::Subtitle),
    ("ass", "text/x-ssa", MediaType::Subtitle),
    ("ttml", "application/ttml+xml", MediaType::Subtitle),
    ("smi", "application/smil+xml", MediaType::Subtitle),
    // documents
    ("pdf", "application/pdf", MediaType::Document),
    ("txt", "text/plain", MediaType::Document),
    ("text", "text/plain", MediaType::Document),
    ("csv", "text/csv", MediaType::Document),
    ("rtf", "application/rtf", MediaType::Document),
    ("doc", "application/msword", MediaType::Document),
    (
        "docx",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        MediaType::Document,
    ),
    ("xls", "application/vnd.ms-excel", MediaType::Document),
    (
        "xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        MediaType::Document,
    ),
    ("ppt", "application/vnd.ms-powerpoint", MediaType::Document),
    (
        "pptx",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        MediaType::Document,
    ),
    (
        "odt",
        "application/vnd.oasis.opendocument.text",
        MediaType::Document,
    ),
    (
        "ods",
        "application/vnd.oasis.opendocument.spreadsheet",
        MediaType::Document,
    ),
    (
        "odp",
        "application/vnd.oasis.opendocument.presentation",
        MediaType::Document,
    ),
    ("epub", "application/epub+zip", MediaType::Document),
    ("htm", "text/html", MediaType::Document),
    ("html", "text/html", MediaType::Document),
    ("xml", "text/xml", MediaType::Document),
];

/// (MIME, media type) for a file name; unknown extensions are `application/octet-stream`, none.
pub fn classify_name(name: &str) -> (&'static str, MediaType) {
    let ext = match name.rfind('.') {
        Some(i) if i + 1 < name.len() => &name[i + 1..],
        _ => return (OCTET_STREAM, MediaType::None),
    };
    TABLE
        .iter()
        .find(|(e, _, _)| e.eq_ignore_ascii_case(ext))
        .map(|(_, m, t)| (*m, *t))
        .unwrap_or((OCTET_STREAM, MediaType::None))
}

pub fn media_type_of(name: &str) -> MediaType {
    classify_name(name).1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions() {
        assert_eq!(classify_name("A.JPG"), ("image/jpeg", MediaType::Image));
        assert_eq!(classify_name("clip.mp4"), ("video/mp4", MediaType::Video));
        assert_eq!(classify_name("song.mp3").1, MediaType::Audio);
        assert_eq!(classify_name("list.m3u").1, MediaType::Playlist);
        assert_eq!(classify_name("subs.srt").1, MediaType::Subtitle);
        assert_eq!(classify_name("doc.pdf").1, MediaType::Document);
        assert_eq!(classify_name("blob.bin"), (OCTET_STREAM, MediaType::None));
        assert_eq!(classify_name("noext").1, MediaType::None);
        assert_eq!(classify_name("trailing.").1, MediaType::None);
        assert_eq!(classify_name(".pending-1-a.jpg").1, MediaType::Image);
    }
}
