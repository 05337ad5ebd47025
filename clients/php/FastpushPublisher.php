<?php
/*  The single-file entry of earlier versions, kept working:
 *
 *      require 'FastpushPublisher.php';
 *      $pub = new FastpushPublisher([...]);    // = Fastpush\Publisher
 *      catch (FastpushException $e)            // = Fastpush\FastpushException
 *
 *  The classes now live in src/ (namespace Fastpush, PSR-4, Composer
 *  package fastpush/fastpush-php); see README.md.
 */
require_once __DIR__ . '/autoload.php';

if (!class_exists('FastpushPublisher', false))
    class_alias('Fastpush\Publisher', 'FastpushPublisher');
if (!class_exists('FastpushException', false))
    class_alias('Fastpush\FastpushException', 'FastpushException');
