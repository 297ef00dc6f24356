#!/usr/bin/perl
# scripts/validate-meta.pl - validate META.json against the PGXN Meta Spec 1.0.0.
#
#   scripts/validate-meta.pl [META.json]          the file in the tree
#   scripts/validate-meta.pl --dist ARCHIVE.zip   the META.json of a `make dist`
#                                                 archive, and its contents
#
# Checks what the spec (https://pgxn.org/spec/) requires of a distribution's
# META.json: the required keys (name, abstract, maintainer, license, provides,
# version, meta-spec with version 1.0.0) and their types; semantic versions;
# license names from the spec's list; provides entries (file and version
# required, status from stable/testing/unstable); prereqs phases, relations
# and versions; release_status; tags; resources; other keys only as x_*.
# Then what careflags keeps in step: every provides file and docfile is in the
# repository (git ls-files) or the archive, and the versions match the control
# files' default_version.  Debian has no PGXN::Meta::Validator package; this
# is the spec's text turned into checks.  Prints "META.json valid" and exits 0,
# or one line per problem and exits 1.
use strict;
use warnings;
use JSON::PP;

my ($dist, $path) = (undef, 'META.json');
if (@ARGV && $ARGV[0] eq '--dist') { $dist = $ARGV[1] or die "usage: $0 --dist ARCHIVE.zip\n"; }
elsif (@ARGV) { $path = $ARGV[0]; }

my @errors;
sub err { push @errors, join('', @_); }

my ($text, %files, $prefix);
if ($dist) {
    require IO::Uncompress::Unzip;
    no warnings 'once';
    my $z = IO::Uncompress::Unzip->new($dist) or die "cannot read $dist: $IO::Uncompress::Unzip::UnzipError\n";
    my $status = 1;
    for (; $status > 0; $status = $z->nextStream) {
        my $name = $z->getHeaderInfo->{Name};
        $files{$name} = 1;
        my ($top) = $name =~ m{^([^/]+)/};
        err("archive: $name is not under one top directory") unless defined $top;
        $prefix //= $top;
        err("archive: more than one top directory ($prefix, $top)") if defined $top && $top ne $prefix;
        if (defined $prefix && $name eq "$prefix/META.json") {
            local $/;
            my $buf = '';
            while ((my $n = $z->read(my $chunk)) > 0) { $buf .= $chunk; }
            $text = $buf;
        }
    }
    die "archive $dist has no META.json in its top directory\n" unless defined $text;
    %files = map { (my $f = $_) =~ s{^\Q$prefix\E/}{}; ($f => 1) } keys %files;
} else {
    %files = map { chomp; ($_ => 1) } `git ls-files`;
    open my $fh, '<', $path or die "cannot read $path: $!\n";
    local $/;
    $text = <$fh>;
}

my $meta = eval { JSON::PP->new->utf8->decode($text) };
if (!$meta) { print "META.json is not JSON: $@"; exit 1; }

my $semver = qr/^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)([a-zA-Z][0-9A-Za-z-]*)?$/;
my %licenses = map { $_ => 1 } qw(agpl_3 apache_1_1 apache_2_0 artistic_1 artistic_2 bsd freebsd gfdl_1_2
    gfdl_1_3 gpl_1 gpl_2 gpl_3 lgpl_2_1 lgpl_3_0 mit mozilla_1_0 mozilla_1_1 openssl perl_5 postgresql
    qpl_1_0 ssleay sun zlib open_source restricted unrestricted unknown);
my %status = map { $_ => 1 } qw(stable testing unstable);
my %known = map { $_ => 1 } qw(name abstract description version maintainer license provides meta-spec
    prereqs release_status resources tags no_index generated_by);

sub is_string { my $v = shift; return defined $v && !ref $v && $v ne ''; }
sub is_version_range {
    my $v = shift;
    return 0 unless defined $v && !ref $v;
    return 1 if $v eq '0' || $v =~ $semver;
    for my $part (split /\s*,\s*/, $v) {
        return 0 unless $part =~ /^(?:==|!=|>=|<=|>|<)\s*(\S+)$/ && ($1 eq '0' || $1 =~ $semver);
    }
    return 1;
}

for my $k (qw(name abstract maintainer license provides version meta-spec)) {
    err("required key $k is missing") unless exists $meta->{$k};
}
for my $k (sort keys %$meta) {
    err("unknown key $k (custom keys start with x_)") unless $known{$k} || $k =~ /^[xX]_/;
}
err("name must be a string of at least two characters without / \\ or spaces")
    unless is_string($meta->{name}) && length($meta->{name}) >= 2 && $meta->{name} !~ m{[/\\\s[:cntrl:]]};
err("abstract must be a non-empty string") unless is_string($meta->{abstract});
err("description must be a string") if exists $meta->{description} && !is_string($meta->{description});
err("generated_by must be a string") if exists $meta->{generated_by} && !is_string($meta->{generated_by});
err("version \"", $meta->{version} // '', "\" is not a semantic version (x.y.z)")
    unless is_string($meta->{version}) && $meta->{version} =~ $semver;
my $m = $meta->{maintainer};
err("maintainer must be a string or an array of strings")
    unless is_string($m) || (ref $m eq 'ARRAY' && @$m && !grep { !is_string($_) } @$m);
my $l = $meta->{license};
if (ref $l eq 'HASH') {
    err("license object must map names to URLs") unless %$l && !grep { !is_string($l->{$_}) || $l->{$_} !~ m{^[a-z][a-z0-9+.-]*://} } keys %$l;
} else {
    my @l = ref $l eq 'ARRAY' ? @$l : ($l);
    err("license \"", $_ // '', "\" is not one the spec lists") for grep { !defined $_ || ref $_ || !$licenses{$_} } @l;
}
my $ms = $meta->{'meta-spec'};
if (ref $ms ne 'HASH') { err("meta-spec must be an object"); }
else {
    err("meta-spec version must be \"1.0.0\" (the PGXN Meta Spec in force), not \"", $ms->{version} // '', "\"")
        unless defined $ms->{version} && $ms->{version} eq '1.0.0';
    err("meta-spec url must be a URL") if exists $ms->{url} && !(is_string($ms->{url}) && $ms->{url} =~ m{^https?://});
}
err("release_status must be stable, testing or unstable")
    if exists $meta->{release_status} && !(defined $meta->{release_status} && $status{$meta->{release_status}});
if (exists $meta->{tags}) {
    my $t = $meta->{tags};
    err("tags must be an array of strings of 1 to 255 characters")
        unless ref $t eq 'ARRAY' && !grep { !is_string($_) || length($_) > 255 } @$t;
}
if (exists $meta->{prereqs}) {
    my $p = $meta->{prereqs};
    if (ref $p ne 'HASH') { err("prereqs must be an object"); }
    else {
        for my $phase (sort keys %$p) {
            err("prereqs phase $phase is not configure, build, test, runtime or develop")
                unless $phase =~ /^(configure|build|test|runtime|develop)$/;
            my $rels = $p->{$phase};
            if (ref $rels ne 'HASH') { err("prereqs.$phase must be an object"); next; }
            for my $rel (sort keys %$rels) {
                err("prereqs.$phase.$rel is not requires, recommends, suggests or conflicts")
                    unless $rel =~ /^(requires|recommends|suggests|conflicts)$/;
                my $deps = $rels->{$rel};
                if (ref $deps ne 'HASH') { err("prereqs.$phase.$rel must be an object"); next; }
                for my $d (sort keys %$deps) {
                    err("prereqs.$phase.$rel.$d: \"", $deps->{$d} // '', "\" is not a version or version range")
                        unless is_version_range($deps->{$d});
                }
            }
        }
    }
}
if (exists $meta->{resources}) {
    my $r = $meta->{resources};
    if (ref $r ne 'HASH') { err("resources must be an object"); }
    else {
        for my $k (sort keys %$r) {
            err("resources.$k is not homepage, bugtracker or repository") unless $k =~ /^(homepage|bugtracker|repository|[xX]_.*)$/;
        }
    }
}

my $p = $meta->{provides};
if (ref $p ne 'HASH' || !%$p) { err("provides must be an object naming at least one extension"); $p = {}; }
for my $ext (sort keys %$p) {
    my $e = $p->{$ext};
    if (ref $e ne 'HASH') { err("provides.$ext must be an object"); next; }
    for my $k (sort keys %$e) {
        err("provides.$ext.$k is not file, version, abstract, docfile or status") unless $k =~ /^(file|version|abstract|docfile|status|[xX]_.*)$/;
    }
    err("provides.$ext.file is required") unless is_string($e->{file});
    err("provides.$ext.version \"", $e->{version} // '', "\" is not a semantic version")
        unless is_string($e->{version}) && $e->{version} =~ $semver;
    err("provides.$ext.status must be stable, testing or unstable") if exists $e->{status} && !$status{$e->{status} // ''};
    for my $k (qw(file docfile)) {
        next unless is_string($e->{$k});
        err("provides.$ext.$k $e->{$k} is not ", $dist ? "in the archive" : "a committed file (git ls-files)")
            unless $files{$e->{$k}};
    }
    # careflags: versions in step with the control files
    my ($control) = grep { -f $_ } ("$ext.control", map { "plugins/$_/$ext.control" } ($ext =~ /^careflags_(.*)$/ ? ($1) : ()));
    if ($control && open my $cf, '<', $control) {
        my ($dv) = map { /^default_version\s*=\s*'([^']*)'/ ? $1 : () } <$cf>;
        my $want = defined $dv ? ($dv =~ /^\d+\.\d+$/ ? "$dv.0" : $dv) : undef;
        err("provides.$ext.version ", $e->{version} // '', " is not $control\'s default_version $dv ($want)")
            if defined $want && ($e->{version} // '') ne $want;
    }
}
if (my $core = $p->{$meta->{name} // ''}) {
    err("version ", $meta->{version} // '', " is not the version of $meta->{name} in provides (", $core->{version} // '', ")")
        if ($meta->{version} // '') ne ($core->{version} // '');
}

if (@errors) { print "META.json invalid: $_\n" for @errors; exit 1; }
print "META.json valid (PGXN Meta Spec 1.0.0", $dist ? ", in $dist" : "", ")\n";
exit 0;
