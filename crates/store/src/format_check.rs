//! The disk format inspector as a check on a write: the bytes are inspected as they
//! stream, refused as soon as they prove unsafe or not the declared `disk_format`, and
//! the virtual size comes out at the end.

use super::write::{DataCheck, Refused};
use domain::Image;
use domain::status::DiskFormat;
use imagefleet_inspector::{Inspector, Refusal};

/// Inspects data against the format its image declares.
#[derive(Debug, Clone)]
pub struct FormatCheck(Inspector);

impl FormatCheck {
    /// A check for data declared as `disk_format` (an image without one has no data yet:
    /// the domain refuses data commands until it is set, so any value would do; raw
    /// still refuses unsafe content).
    pub fn for_format(disk_format: Option<DiskFormat>) -> Self {
        Self(Inspector::new(
            disk_format.map_or("raw", DiskFormat::as_str),
        ))
    }

    /// A check for `image`'s data.
    pub fn for_image(image: &Image) -> Self {
        Self::for_format(image.disk_format)
    }
}

fn refused(refusal: Refusal) -> Refused {
    Refused {
        harmful: refusal.is_unsafe(),
        message: refusal.to_string(),
    }
}

impl DataCheck for FormatCheck {
    fn feed(&mut self, chunk: &[u8]) -> Result<(), Refused> {
        self.0.feed(chunk).map_err(refused)
    }

    fn finish(self) -> Result<Option<u64>, Refused> {
        self.0
            .finish()
            .map(|inspection| inspection.virtual_size)
            .map_err(refused)
    }
}
