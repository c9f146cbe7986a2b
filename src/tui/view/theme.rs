//! How classes and states look: a colour each, and a marker that reads without colour.

use ratatui::style::{Color, Modifier, Style};

use crate::merge::Class;
use crate::tui::app::Theme;

impl Theme {
    /// Colours unless `NO_COLOR` is set (to anything non-empty, per no-color.org).
    pub fn from_env() -> Self {
        Self {
            color: std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        }
    }

    fn fg(self, color: Color) -> Style {
        if self.color {
            Style::new().fg(color)
        } else {
            Style::new()
        }
    }

    /// A class's marker: the same information as its colour.
    pub fn marker(class: Class) -> &'static str {
        match class {
            Class::Unchanged => "=",
            Class::Local => "L",
            Class::Server => "S",
            Class::BothSame => "B",
            Class::Conflict => "!",
            Class::Invalid => "✗",
        }
    }

    pub fn class(self, class: Class) -> Style {
        match class {
            Class::Unchanged => self.dim(),
            Class::Local => self.fg(Color::Green),
            Class::Server => self.fg(Color::Cyan),
            Class::BothSame => self.fg(Color::Blue),
            Class::Conflict => self.fg(Color::Red).add_modifier(Modifier::BOLD),
            Class::Invalid => self.fg(Color::Magenta).add_modifier(Modifier::BOLD),
        }
    }

    pub fn dim(self) -> Style {
        if self.color {
            Style::new().fg(Color::DarkGray)
        } else {
            Style::new()
        }
    }

    pub fn title(self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }

    pub fn selected(self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }

    pub fn error(self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }

    pub fn info(self) -> Style {
        self.fg(Color::Yellow)
    }

    pub fn key(self) -> Style {
        self.fg(Color::Yellow).add_modifier(Modifier::BOLD)
    }

    /// Words a side changed since the base: underlined, in the side's class colour.
    pub fn changed(self, side: Class) -> Style {
        self.class(side).add_modifier(Modifier::UNDERLINED)
    }

    /// Text the server has and local does not: struck through (red with colour).
    pub fn removed(self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::CROSSED_OUT)
    }

    /// Text local has and the server does not: underlined (green with colour).
    pub fn added(self) -> Style {
        self.fg(Color::Green).add_modifier(Modifier::UNDERLINED)
    }

    pub fn decided(self) -> Style {
        self.fg(Color::Green)
    }
}
